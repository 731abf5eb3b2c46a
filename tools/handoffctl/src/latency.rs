// SPDX-License-Identifier: GPL-2.0

//! `handoffctl latency show`: a live histogram of handoff latency per node.
//!
//! Why BPF: the module's own figure (the `latency-us` of handoff-done
//! events) is counted in jiffies, a few milliseconds, while a handoff on a
//! LAN takes a fraction of one. A BPF program on the module's tracepoints
//! (`src/bpf/latency.bpf.c`) stamps each handoff with `bpf_ktime_get_ns()`
//! when the front-end sends its request and sends the difference to this
//! process through a ring buffer when the back-end's HANDOFF_ACK arrives.
//! The tool only sorts the samples into log2 buckets, like bcc's
//! `biolatency`.
//!
//! The program is loaded with libbpf-rs from a skeleton that libbpf-cargo
//! generates in build.rs. It attaches to raw tracepoints, so the kernel
//! needs BPF but no BTF.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, RingBufferBuilder};
use serde::Serialize;

use crate::args::{parse_id, parse_num, UsageError};

#[allow(clippy::all, clippy::pedantic, missing_docs, dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/latency.skel.rs"));
}
use skel::LatencySkelBuilder;

/// What `latency show` was asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LatencyArgs {
    /// Print (and restart) the histograms every this many seconds; without
    /// it, once, when stopped.
    pub interval: Option<u64>,
    /// Stop after this many intervals.
    pub count: Option<u64>,
    /// Only this back-end node.
    pub node: Option<u32>,
}

/// Parses `[interval SECS] [count N] [node ID]`.
pub fn parse_latency_args(args: &[String]) -> Result<LatencyArgs, UsageError> {
    let mut a = LatencyArgs::default();
    let mut it = args.iter();
    while let Some(kw) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(String::as_str)
                .ok_or_else(|| UsageError(format!("latency show: \"{name}\" needs a value")))
        };
        match kw.as_str() {
            "interval" => a.interval = Some(parse_num("interval", value("interval")?, 1, 3600)?),
            "count" => a.count = Some(parse_num("count", value("count")?, 1, 1 << 32)?),
            "node" => a.node = Some(parse_id(value("node")?)?),
            other => {
                return Err(UsageError(format!(
                    "latency show: unknown argument \"{other}\" (expected interval, count or node)"
                )))
            }
        }
    }
    if a.count.is_some() && a.interval.is_none() {
        return Err(UsageError(
            "latency show: \"count\" needs an \"interval\"".into(),
        ));
    }
    Ok(a)
}

/// Log2 histogram of latencies in microseconds: bucket `i` holds samples
/// in `[2^i, 2^(i+1))` µs, bucket 0 also those under 1 µs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
}

/// One bucket of a histogram, for `-j`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Bucket {
    pub low_us: u64,
    pub high_us: u64,
    pub count: u64,
}

/// One node's histogram, for `-j`.
#[derive(Debug, Serialize)]
pub struct NodeLatency {
    pub node: u32,
    pub count: u64,
    pub min_us: u64,
    pub avg_us: u64,
    pub max_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub buckets: Vec<Bucket>,
}

/// One report (an interval, or the whole run), for `-j`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub seconds: f64,
    /// Samples the ring buffer had no room for.
    pub lost: u64,
    pub nodes: Vec<NodeLatency>,
}

impl Histogram {
    pub fn add(&mut self, us: u64) {
        let i = if us < 2 { 0 } else { us.ilog2() as usize };
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, 0);
        }
        self.buckets[i] += 1;
        self.min_us = if self.count == 0 {
            us
        } else {
            self.min_us.min(us)
        };
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    fn low(i: usize) -> u64 {
        if i == 0 {
            0
        } else {
            1 << i
        }
    }

    fn high(i: usize) -> u64 {
        (1u64 << (i + 1)) - 1
    }

    /// The upper bound of the bucket holding the `q` quantile (0 < q <= 1):
    /// a histogram knows no better, and an upper bound is what an operator
    /// wants from a p99.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::high(i).min(self.max_us);
            }
        }
        self.max_us
    }

    /// The non-empty range of buckets, as `-j` prints them.
    pub fn buckets(&self) -> Vec<Bucket> {
        let first = self.buckets.iter().position(|&n| n > 0).unwrap_or(0);
        self.buckets
            .iter()
            .enumerate()
            .skip(first)
            .map(|(i, &count)| Bucket {
                low_us: Self::low(i),
                high_us: Self::high(i),
                count,
            })
            .collect()
    }

    pub fn summary(&self, node: u32) -> NodeLatency {
        NodeLatency {
            node,
            count: self.count,
            min_us: self.min_us,
            avg_us: self.sum_us.checked_div(self.count).unwrap_or(0),
            max_us: self.max_us,
            p50_us: self.quantile(0.5),
            p99_us: self.quantile(0.99),
            buckets: self.buckets(),
        }
    }

    /// The histogram as text, like bcc's `biolatency`.
    pub fn render(&self, node: u32) -> String {
        let s = self.summary(node);
        let mut out = format!(
            "node {node}: {} handoffs, min {} avg {} p50 {} p99 {} max {} (us)\n",
            s.count, s.min_us, s.avg_us, s.p50_us, s.p99_us, s.max_us
        );
        out.push_str("     usecs               : count     distribution\n");
        let top = s.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
        for b in &s.buckets {
            let stars = ((b.count * 40).div_ceil(top)) as usize;
            out.push_str(&format!(
                "{:>10} -> {:<10} : {:<9} |{:<40}|\n",
                b.low_us,
                b.high_us,
                b.count,
                "*".repeat(if b.count == 0 { 0 } else { stars })
            ));
        }
        out
    }
}

/// Set by SIGINT and SIGTERM: print what was gathered and stop.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn catch_signals() {
    // No SA_RESTART: the ring buffer's epoll_wait returns EINTR, and the
    // loop sees STOP at once.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value; the handler only stores to an atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// A failure of `latency`, with the errno for `-j`.
pub struct LatencyError {
    pub msg: String,
    pub errno: i32,
}

/// Turns a libbpf error of step `what` into a message an operator can act
/// on: BPF missing from the kernel, missing privileges, or the module's
/// tracepoints missing (module not loaded).
fn explain(what: &str, e: &libbpf_rs::Error) -> LatencyError {
    let errno = os_errno(e).unwrap_or(match e.kind() {
        libbpf_rs::ErrorKind::NotFound => libc::ENOENT,
        libbpf_rs::ErrorKind::PermissionDenied => libc::EPERM,
        libbpf_rs::ErrorKind::Unsupported => libc::EOPNOTSUPP,
        libbpf_rs::ErrorKind::InvalidInput => libc::EINVAL,
        _ => libc::EIO,
    });
    let why = match errno {
        libc::ENOSYS => {
            "this kernel has no BPF system call (CONFIG_BPF_SYSCALL is off)".to_string()
        }
        libc::EPERM | libc::EACCES => {
            "not permitted: loading BPF programs needs root (CAP_BPF and CAP_PERFMON)".to_string()
        }
        libc::ENOENT if what == "attaching" => "the module's tracepoints are not there: is \
                                                tcp_handoff loaded?"
            .to_string(),
        libc::EINVAL | libc::EOPNOTSUPP if what == "attaching" => {
            "this kernel cannot attach BPF programs to tracepoints (CONFIG_BPF_EVENTS is off?)"
                .to_string()
        }
        _ => e.to_string(),
    };
    LatencyError {
        msg: format!("latency: {what} the BPF program failed: {why}"),
        errno,
    }
}

/// The errno under a libbpf error, if it came from a system call.
fn os_errno(e: &libbpf_rs::Error) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(n) = c
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(n);
        }
        cur = c.source();
    }
    None
}

/// Whether this kernel has the BPF system call at all (the skeleton's own
/// errors do not tell ENOSYS apart).
fn bpf_syscall_present() -> bool {
    // SAFETY: BPF_PROG_LOAD with a null attribute pointer and size 0 only
    // makes the kernel check its arguments; it reads no memory.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, 5, std::ptr::null::<u8>(), 0u32) };
    !(rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

/// How the samples are printed.
#[derive(Clone, Copy)]
pub struct Style {
    pub json: bool,
    pub pretty: bool,
}

fn print_report(
    hists: &BTreeMap<u32, Histogram>,
    lost: u64,
    seconds: f64,
    style: Style,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if style.json {
        let r = Report {
            seconds,
            lost,
            nodes: hists.iter().map(|(&n, h)| h.summary(n)).collect(),
        };
        let text = if style.pretty {
            serde_json::to_string_pretty(&r)
        } else {
            serde_json::to_string(&r)
        }
        .unwrap_or_else(|_| "null".into());
        writeln!(out, "{text}")?;
    } else {
        if hists.is_empty() {
            writeln!(out, "no handoffs in {seconds:.1} s")?;
        }
        for (&n, h) in hists {
            write!(out, "{}", h.render(n))?;
        }
        if lost > 0 {
            writeln!(out, "({lost} samples lost: the ring buffer was full)")?;
        }
    }
    out.flush()
}

/// Loads the program for the current network namespace and prints
/// histograms until stopped (Ctrl-C) or `count` intervals have passed.
pub fn run(args: &LatencyArgs, style: Style) -> Result<(), LatencyError> {
    if !bpf_syscall_present() {
        return Err(LatencyError {
            msg: "latency: this kernel has no BPF system call (CONFIG_BPF_SYSCALL is off)".into(),
            errno: libc::ENOSYS,
        });
    }
    let netns = std::fs::metadata("/proc/self/ns/net")
        .map_err(|e| LatencyError {
            msg: format!("latency: cannot read this network namespace: {e}"),
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        })?
        .ino();
    let netns = u32::try_from(netns).map_err(|_| LatencyError {
        msg: format!("latency: namespace inode {netns} does not fit the tracepoints' u32"),
        errno: libc::EOVERFLOW,
    })?;
    // libbpf's own messages would repeat ours, less clearly.
    libbpf_rs::set_print(None);
    let mut storage = MaybeUninit::uninit();
    let mut open = LatencySkelBuilder::default()
        .open(&mut storage)
        .map_err(|e| explain("opening", &e))?;
    if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
        ro.netns = netns;
    }
    let mut skel = open.load().map_err(|e| explain("loading", &e))?;
    skel.attach().map_err(|e| explain("attaching", &e))?;

    let hists = std::rc::Rc::new(std::cell::RefCell::new(BTreeMap::<u32, Histogram>::new()));
    let sink = hists.clone();
    let only = args.node;
    let mut rb = RingBufferBuilder::new();
    rb.add(&skel.maps.samples, move |data: &[u8]| {
        // struct sample { u32 node; u32 pad; u64 ns; }
        if let (Some(node), Some(ns)) = (data.get(0..4), data.get(8..16)) {
            let node = u32::from_ne_bytes(node.try_into().unwrap_or_default());
            let ns = u64::from_ne_bytes(ns.try_into().unwrap_or_default());
            if only.is_none_or(|n| n == node) {
                sink.borrow_mut().entry(node).or_default().add(ns / 1000);
            }
        }
        0
    })
    .map_err(|e| explain("reading", &e))?;
    let rb = rb.build().map_err(|e| explain("reading", &e))?;

    catch_signals();
    // Like tcpdump's "listening on": scripts wait for this line.
    let _ = writeln!(
        io::stderr(),
        "handoffctl: tracing handoff latency in this namespace (Ctrl-C to stop)"
    );
    let lost_of = |skel: &skel::LatencySkel<'_>| -> u64 {
        let key = 0u32.to_ne_bytes();
        skel.maps
            .lost
            .lookup(&key, MapFlags::ANY)
            .ok()
            .flatten()
            .and_then(|v| {
                v.get(..8)
                    .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or_default()))
            })
            .unwrap_or(0)
    };
    let mut start = Instant::now();
    let mut lost_before = 0;
    let mut printed = 0u64;
    loop {
        let stop = STOP.load(Ordering::SeqCst);
        if !stop {
            // EINTR (the signal) is the normal way out: STOP is set then.
            if let Err(e) = rb.poll(Duration::from_millis(200)) {
                if !STOP.load(Ordering::SeqCst) {
                    return Err(explain("reading", &e));
                }
            }
        } else {
            // Take what is left in the buffer before the last report.
            let _ = rb.consume();
        }
        let due = args
            .interval
            .is_some_and(|s| start.elapsed() >= Duration::from_secs(s));
        if due || stop {
            let lost = lost_of(&skel);
            let seconds = start.elapsed().as_secs_f64();
            if print_report(&hists.borrow(), lost - lost_before, seconds, style).is_err() {
                return Ok(()); // stdout closed
            }
            hists.borrow_mut().clear();
            lost_before = lost;
            start = Instant::now();
            printed += 1;
            if stop || args.count.is_some_and(|c| printed >= c) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_latency_args(&[]).unwrap(), LatencyArgs::default());
        assert_eq!(
            parse_latency_args(&strings(&["interval", "2", "count", "3", "node", "7"])).unwrap(),
            LatencyArgs {
                interval: Some(2),
                count: Some(3),
                node: Some(7)
            }
        );
        for bad in [
            &["interval"][..],
            &["interval", "0"],
            &["interval", "x"],
            &["count", "2"],
            &["node", "0"],
            &["nodes", "1"],
        ] {
            assert!(parse_latency_args(&strings(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn buckets_are_log2_microseconds() {
        let mut h = Histogram::default();
        for us in [0, 1, 2, 3, 4, 700, 1000, 1023, 1024] {
            h.add(us);
        }
        let b = h.buckets();
        assert_eq!(
            b[0],
            Bucket {
                low_us: 0,
                high_us: 1,
                count: 2
            }
        );
        assert_eq!(
            b[1],
            Bucket {
                low_us: 2,
                high_us: 3,
                count: 2
            }
        );
        assert_eq!(
            b[2],
            Bucket {
                low_us: 4,
                high_us: 7,
                count: 1
            }
        );
        let last = b.last().unwrap();
        assert_eq!((last.low_us, last.high_us, last.count), (1024, 2047, 1));
        assert_eq!(b.iter().map(|b| b.count).sum::<u64>(), 9);
        let s = h.summary(2);
        assert_eq!((s.count, s.min_us, s.max_us), (9, 0, 1024));
        assert_eq!(s.avg_us, (1 + 2 + 3 + 4 + 700 + 1000 + 1023 + 1024) / 9);
    }

    #[test]
    fn quantiles_are_bucket_upper_bounds() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0);
        for _ in 0..99 {
            h.add(300); // bucket 256..511
        }
        h.add(5000); // bucket 4096..8191
        assert_eq!(h.quantile(0.5), 511);
        assert_eq!(h.quantile(0.99), 511);
        assert_eq!(h.quantile(1.0), 5000, "capped at the largest sample");
    }

    #[test]
    fn empty_leading_buckets_are_left_out() {
        let mut h = Histogram::default();
        h.add(300);
        h.add(2000);
        let b = h.buckets();
        assert_eq!(b.first().unwrap().low_us, 256);
        assert_eq!(b.len(), 3, "256, 512 (empty) and 1024");
        let text = h.render(3);
        assert!(text.starts_with("node 3: 2 handoffs"), "{text}");
        assert_eq!(text.lines().count(), 2 + 3, "{text}");
    }
}
