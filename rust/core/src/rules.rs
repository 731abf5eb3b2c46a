// SPDX-License-Identifier: GPL-2.0

//! Dispatch rules: which back-end node serves a request.
//!
//! The front-end holds an ordered rule table (configured from user space);
//! the first rule whose method, host and path conditions all match a parsed
//! [`Request`] decides the candidate nodes and the balancing [`Policy`]
//! among them. Matching is allocation-free and borrows both the rules and
//! the request, so the kernel can evaluate a table under a read lock
//! without copying.
//!
//! Paths are matched on the bytes exactly as the client sent them, without
//! percent-decoding or dot-segment removal: decoding in the kernel would
//! need a second buffer and would still not be guaranteed to agree with the
//! back-end server's own normalisation. This is a known limit: the server
//! decodes `/%61dmin` to `/admin`, so rules are a load-distribution tool and
//! not an access-control mechanism; access control belongs on the back-end.
//!
//! Balancing never picks a node that [`NodeLoad::is_up`] reports as down.
//! [`Policy::HashUrl`] uses rendezvous (highest-random-weight) hashing, so
//! that when a node goes down only the URLs it served move elsewhere and all
//! other URLs keep their node (and its warm cache).

use super::http::{Method, Request};
use super::packet::fmix32;

/// How a rule's path condition compares against [`Request::path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathMatch<'a> {
    /// Any path.
    Any,
    /// The path starts with these bytes.
    Prefix(&'a [u8]),
    /// The path ends with these bytes (for example `.jpg`).
    Suffix(&'a [u8]),
    /// The path is exactly these bytes.
    Exact(&'a [u8]),
}

impl PathMatch<'_> {
    /// Whether `path` satisfies this condition (byte-wise, case-sensitive).
    pub fn matches(&self, path: &[u8]) -> bool {
        match *self {
            PathMatch::Any => true,
            PathMatch::Prefix(p) => path.starts_with(p),
            PathMatch::Suffix(s) => path.ends_with(s),
            PathMatch::Exact(e) => path == e,
        }
    }
}

/// How a rule balances among its target nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Serve on the front-end itself (node 0); targets are ignored.
    Local,
    /// Rotate through the up targets.
    RoundRobin,
    /// The up target with the fewest active connections; ties go to the
    /// earliest target in the list.
    LeastConnections,
    /// The same host and path always go to the same up target (rendezvous
    /// hashing), for cache locality.
    HashUrl,
    /// Locality-aware request distribution with replication
    /// ([`super::lard`]): each URL keeps a set of nodes that grows when its
    /// nodes are overloaded and shrinks when they are not. It needs the
    /// caller's table of sets, so [`pick_target`] alone cannot apply it and
    /// picks as [`Policy::LeastConnections`] would, ties broken by the URL.
    Lard,
}

/// One dispatch rule. A request matches when every condition matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule<'a> {
    /// Required method, or `None` for any method.
    pub method: Option<Method>,
    /// Required host, compared case-insensitively; `None` for any host. A
    /// pattern `*.example.com` matches every subdomain of `example.com` (at
    /// any depth) but not `example.com` itself. A request without a host
    /// never matches a rule that has one.
    pub host: Option<&'a [u8]>,
    /// Path condition.
    pub path: PathMatch<'a>,
    /// Candidate node ids; `0` is the local (front-end) node.
    pub targets: &'a [u32],
    /// Balancing policy among `targets`.
    pub policy: Policy,
}

/// Whether a request host matches a rule host pattern.
///
/// Both compare case-insensitively; one trailing dot on the request host
/// (a fully-qualified name such as `example.com.`) is ignored.
pub fn host_matches(pattern: &[u8], host: &[u8]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host);
    match pattern.strip_prefix(b"*") {
        // `suffix` keeps its leading dot, so `*.a.b` needs `x.a.b`.
        Some(suffix) if suffix.first() == Some(&b'.') => {
            host.len() > suffix.len()
                && host
                    .len()
                    .checked_sub(suffix.len())
                    .and_then(|start| host.get(start..))
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
        }
        _ => host.eq_ignore_ascii_case(pattern),
    }
}

impl Rule<'_> {
    /// Whether `req` satisfies every condition of this rule.
    pub fn matches(&self, req: &Request<'_>) -> bool {
        if let Some(m) = self.method {
            if m != req.method {
                return false;
            }
        }
        if let Some(pattern) = self.host {
            match req.host {
                Some(host) if host_matches(pattern, host) => {}
                _ => return false,
            }
        }
        self.path.matches(req.path)
    }
}

/// Returns the index of the first rule, in table order, that matches `req`,
/// or `None` if none does (the caller then applies its default, normally
/// serving locally).
pub fn first_match<'r>(rules: &'r [Rule<'r>], req: &Request<'_>) -> Option<usize> {
    rules.iter().position(|rule| rule.matches(req))
}

/// Live state of the cluster's nodes, as seen by the front-end.
pub trait NodeLoad {
    /// Whether `node` is currently accepting handoffs.
    fn is_up(&self, node: u32) -> bool;
    /// Number of connections currently handed off to `node`.
    fn active_conns(&self, node: u32) -> u32;
    /// How loaded `node` is for [`Policy::Lard`], in active connections:
    /// by default what this front-end alone hands it.
    fn load(&self, node: u32) -> u32 {
        self.active_conns(node)
    }
}

/// 32-bit FNV-1a offset basis.
const FNV_OFFSET: u32 = 0x811c_9dc5;
/// 32-bit FNV-1a prime.
const FNV_PRIME: u32 = 0x0100_0193;

/// Continues a 32-bit FNV-1a hash over `data`.
fn fnv1a32_update(mut hash: u32, data: &[u8]) -> u32 {
    for &b in data {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Stable 32-bit FNV-1a hash of `data`.
pub fn fnv1a32(data: &[u8]) -> u32 {
    fnv1a32_update(FNV_OFFSET, data)
}

/// Hash of a URL for [`Policy::HashUrl`]: FNV-1a over the lower-cased host,
/// a zero separator byte and the path (the query is not included).
pub fn url_hash(host: Option<&[u8]>, path: &[u8]) -> u32 {
    let mut hash = FNV_OFFSET;
    for &b in host.unwrap_or_default() {
        hash = fnv1a32_update(hash, &[b.to_ascii_lowercase()]);
    }
    hash = fnv1a32_update(hash, &[0]);
    fnv1a32_update(hash, path)
}

/// Rendezvous weight of `node` for a URL hash.
pub(crate) fn hrw_weight(url: u32, node: u32) -> u32 {
    fmix32(url ^ fmix32(node.wrapping_mul(0x9e37_79b9).wrapping_add(1)))
}

/// Chooses the node that should serve `req` under `rule`.
///
/// Nodes for which `load.is_up` is false are skipped; `None` means no
/// target is up (or the rule has none) and the caller falls back to its
/// default. [`Policy::Local`] always yields `Some(0)`. For
/// [`Policy::RoundRobin`], `rr_cursor` is the rule's rotation state: the
/// pick starts at `rr_cursor % targets.len()` and the cursor is left just
/// past the chosen target.
pub fn pick_target(
    rule: &Rule<'_>,
    req: &Request<'_>,
    rr_cursor: &mut u32,
    load: &impl NodeLoad,
) -> Option<u32> {
    let targets = rule.targets;
    let n = targets.len();
    match rule.policy {
        Policy::Local => Some(0),
        Policy::RoundRobin => {
            if n == 0 {
                return None;
            }
            let start = usize::try_from(*rr_cursor).unwrap_or(0) % n;
            for i in 0..n {
                let idx = start.wrapping_add(i) % n;
                let node = *targets.get(idx)?;
                if load.is_up(node) {
                    let next = idx.wrapping_add(1) % n;
                    *rr_cursor = u32::try_from(next).unwrap_or(0);
                    return Some(node);
                }
            }
            None
        }
        Policy::LeastConnections => targets
            .iter()
            .copied()
            .filter(|&node| load.is_up(node))
            .fold(None, |best: Option<(u32, u32)>, node| {
                let conns = load.active_conns(node);
                match best {
                    Some((_, best_conns)) if best_conns <= conns => best,
                    _ => Some((node, conns)),
                }
            })
            .map(|(node, _)| node),
        Policy::Lard => {
            let url = url_hash(req.host, req.path);
            targets
                .iter()
                .copied()
                .filter(|&node| load.is_up(node))
                .fold(None, |best: Option<(u32, u32, u32)>, node| {
                    let (l, w) = (load.load(node), hrw_weight(url, node));
                    match best {
                        Some((_, bl, bw)) if bl < l || (bl == l && bw >= w) => best,
                        _ => Some((node, l, w)),
                    }
                })
                .map(|(node, _, _)| node)
        }
        Policy::HashUrl => {
            let url = url_hash(req.host, req.path);
            targets
                .iter()
                .copied()
                .filter(|&node| load.is_up(node))
                .fold(None, |best: Option<(u32, u32)>, node| {
                    let w = hrw_weight(url, node);
                    match best {
                        Some((_, best_w)) if best_w >= w => best,
                        _ => Some((node, w)),
                    }
                })
                .map(|(node, _)| node)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::http::parse_head;
    use super::*;

    /// Test cluster: up to 64 nodes with a down bitmap and connection counts.
    struct Cluster {
        down: u64,
        conns: [u32; 64],
    }

    impl Cluster {
        fn all_up() -> Self {
            Cluster {
                down: 0,
                conns: [0; 64],
            }
        }
    }

    impl NodeLoad for Cluster {
        fn is_up(&self, node: u32) -> bool {
            node < 64 && self.down & (1 << node) == 0
        }
        fn active_conns(&self, node: u32) -> u32 {
            self.conns[node as usize]
        }
    }

    fn req(head: &[u8]) -> Request<'_> {
        parse_head(head).unwrap()
    }

    const ANY: Rule<'static> = Rule {
        method: None,
        host: None,
        path: PathMatch::Any,
        targets: &[1, 2, 3],
        policy: Policy::RoundRobin,
    };

    #[test]
    fn path_matching() {
        assert!(PathMatch::Any.matches(b""));
        assert!(PathMatch::Prefix(b"/img/").matches(b"/img/a.png"));
        assert!(!PathMatch::Prefix(b"/img/").matches(b"/img"));
        assert!(PathMatch::Suffix(b".jpg").matches(b"/a/b.jpg"));
        assert!(!PathMatch::Suffix(b".jpg").matches(b"/a/b.JPG"));
        assert!(PathMatch::Exact(b"/").matches(b"/"));
        assert!(!PathMatch::Exact(b"/").matches(b"/x"));
        // Known limit: no percent-decoding.
        assert!(!PathMatch::Prefix(b"/admin").matches(b"/%61dmin"));
    }

    #[test]
    fn host_wildcards() {
        assert!(host_matches(b"Example.com", b"eXample.COM"));
        assert!(host_matches(b"example.com", b"example.com."));
        assert!(!host_matches(b"example.com", b"www.example.com"));
        assert!(host_matches(b"*.example.com", b"www.Example.com"));
        assert!(host_matches(b"*.example.com", b"a.b.example.com"));
        assert!(!host_matches(b"*.example.com", b"example.com"));
        assert!(!host_matches(b"*.example.com", b".example.com"));
        assert!(!host_matches(b"*.example.com", b"badexample.com"));
        assert!(!host_matches(b"*.example.com", b"com"));
        assert!(host_matches(b"*x", b"*x"));
        assert!(!host_matches(b"*x", b"ax"));
    }

    #[test]
    fn order_filters_and_default() {
        let rules = [
            Rule {
                method: Some(Method::Post),
                path: PathMatch::Prefix(b"/api"),
                ..ANY
            },
            Rule {
                host: Some(b"*.static.test"),
                ..ANY
            },
            Rule {
                path: PathMatch::Suffix(b".php"),
                ..ANY
            },
            Rule {
                path: PathMatch::Prefix(b"/api"),
                ..ANY
            },
        ];
        let cases: [(&[u8], Option<usize>); 7] = [
            (b"POST /api/x HTTP/1.1\r\nHost: a\r\n\r\n", Some(0)),
            (b"GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n", Some(3)),
            (b"GET /api/x.php HTTP/1.1\r\nHost: a\r\n\r\n", Some(2)),
            (
                b"GET /api/x.php HTTP/1.1\r\nHost: img.STATIC.test\r\n\r\n",
                Some(1),
            ),
            (b"GET /x HTTP/1.1\r\nHost: static.test\r\n\r\n", None),
            (b"GET /x HTTP/1.0\r\n\r\n", None),
            (b"POST /x.php?a=b HTTP/1.0\r\n\r\n", Some(2)),
        ];
        for (head, want) in cases {
            assert_eq!(first_match(&rules, &req(head)), want, "{head:?}");
        }
        assert_eq!(first_match(&[], &req(cases[0].0)), None);
    }

    #[test]
    fn local_and_empty() {
        let r = req(b"GET / HTTP/1.0\r\n\r\n");
        let mut cur = 0;
        let cl = Cluster::all_up();
        let local = Rule {
            policy: Policy::Local,
            targets: &[],
            ..ANY
        };
        assert_eq!(pick_target(&local, &r, &mut cur, &cl), Some(0));
        for policy in [
            Policy::RoundRobin,
            Policy::LeastConnections,
            Policy::HashUrl,
            Policy::Lard,
        ] {
            let rule = Rule {
                policy,
                targets: &[],
                ..ANY
            };
            assert_eq!(pick_target(&rule, &r, &mut cur, &cl), None);
        }
    }

    #[test]
    fn round_robin_skips_down() {
        let r = req(b"GET / HTTP/1.0\r\n\r\n");
        let mut cl = Cluster::all_up();
        let mut cur = 0;
        let picks: [u32; 6] =
            core::array::from_fn(|_| pick_target(&ANY, &r, &mut cur, &cl).unwrap());
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
        cl.down = 1 << 2;
        let picks: [u32; 4] =
            core::array::from_fn(|_| pick_target(&ANY, &r, &mut cur, &cl).unwrap());
        assert_eq!(picks, [1, 3, 1, 3]);
        cl.down = (1 << 1) | (1 << 2) | (1 << 3);
        assert_eq!(pick_target(&ANY, &r, &mut cur, &cl), None);
        // A stale cursor past the end is taken modulo the length.
        cl.down = 0;
        cur = u32::MAX;
        assert_eq!(pick_target(&ANY, &r, &mut cur, &cl), Some(1));
        assert_eq!(cur, 1);
    }

    #[test]
    fn least_connections() {
        let r = req(b"GET / HTTP/1.0\r\n\r\n");
        let rule = Rule {
            policy: Policy::LeastConnections,
            targets: &[4, 5, 6, 7],
            ..ANY
        };
        let mut cl = Cluster::all_up();
        let mut cur = 0;
        cl.conns[4] = 10;
        cl.conns[5] = 3;
        cl.conns[6] = 3;
        cl.conns[7] = 8;
        assert_eq!(pick_target(&rule, &r, &mut cur, &cl), Some(5));
        cl.down = 1 << 5;
        assert_eq!(pick_target(&rule, &r, &mut cur, &cl), Some(6));
        cl.down = (1 << 5) | (1 << 6);
        assert_eq!(pick_target(&rule, &r, &mut cur, &cl), Some(7));
        cl.conns[4] = 0;
        assert_eq!(pick_target(&rule, &r, &mut cur, &cl), Some(4));
        assert_eq!(cur, 0);
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
        assert_eq!(url_hash(Some(b"A.b"), b"/x"), url_hash(Some(b"a.B"), b"/x"));
        assert_ne!(url_hash(Some(b"a"), b"b/"), url_hash(Some(b"ab"), b"/"));
    }

    #[test]
    fn hash_url_is_stable_and_minimal_disruption() {
        let targets: [u32; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
        let rule = Rule {
            policy: Policy::HashUrl,
            targets: &targets,
            ..ANY
        };
        let mut cl = Cluster::all_up();
        let mut cur = 0;
        let mut counts = [0u32; 9];
        let mut buf = [0u8; 64];
        let mut before = [0u32; 2000];
        for (i, slot) in before.iter_mut().enumerate() {
            let head = fmt_head(&mut buf, i);
            let r = req(head);
            let a = pick_target(&rule, &r, &mut cur, &cl).unwrap();
            let b = pick_target(&rule, &r, &mut cur, &cl).unwrap();
            assert_eq!(a, b);
            counts[a as usize] += 1;
            *slot = a;
        }
        // Rough balance: every node gets a fair share of 2000 URLs.
        for &c in &counts[1..] {
            assert!((150..=350).contains(&c), "{counts:?}");
        }
        // Taking node 3 down moves only node 3's URLs.
        cl.down = 1 << 3;
        let mut moved = 0;
        for (i, &old) in before.iter().enumerate() {
            let head = fmt_head(&mut buf, i);
            let new = pick_target(&rule, &req(head), &mut cur, &cl).unwrap();
            if old == 3 {
                assert_ne!(new, 3);
                moved += 1;
            } else {
                assert_eq!(new, old);
            }
        }
        assert_eq!(moved, counts[3]);
        assert_eq!(cur, 0);
        cl.down = !0;
        assert_eq!(
            pick_target(&rule, &req(fmt_head(&mut buf, 1)), &mut cur, &cl),
            None
        );
    }

    #[test]
    fn lard_without_sets_is_least_loaded_then_hash() {
        let targets: [u32; 3] = [1, 2, 3];
        let hashed = Rule {
            policy: Policy::HashUrl,
            targets: &targets,
            ..ANY
        };
        let lard = Rule {
            policy: Policy::Lard,
            ..hashed
        };
        let mut cl = Cluster::all_up();
        let mut cur = 0;
        let mut buf = [0u8; 64];
        for i in 0..200 {
            let r = req(fmt_head(&mut buf, i));
            // Equal loads: the URL's rendezvous favourite, as hash-url.
            cl.conns = [0; 64];
            let fav = pick_target(&hashed, &r, &mut cur, &cl);
            assert_eq!(pick_target(&lard, &r, &mut cur, &cl), fav);
            // The favourite loaded: the least loaded other node.
            let fav = fav.unwrap();
            cl.conns[fav as usize] = 10;
            let other = targets.iter().copied().find(|&n| n != fav).unwrap();
            cl.conns[other as usize] = 5;
            let third = 6 - fav - other;
            cl.conns[third as usize] = 7;
            assert_eq!(pick_target(&lard, &r, &mut cur, &cl), Some(other));
        }
    }

    /// Formats `GET /obj/<i> HTTP/1.1` with a fixed host into `buf`.
    fn fmt_head(buf: &mut [u8; 64], i: usize) -> &[u8] {
        let mut n = 0;
        let mut put = |buf: &mut [u8; 64], s: &[u8]| {
            buf[n..n + s.len()].copy_from_slice(s);
            n += s.len();
        };
        put(buf, b"GET /obj/");
        let mut digits = [0u8; 20];
        let mut d = 0;
        let mut v = i;
        loop {
            digits[d] = b'0' + (v % 10) as u8;
            d += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        digits[..d].reverse();
        put(buf, &digits[..d]);
        put(buf, b" HTTP/1.1\r\nHost: h\r\n\r\n");
        &buf[..n]
    }
}
