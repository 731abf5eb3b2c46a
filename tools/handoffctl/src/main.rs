// SPDX-License-Identifier: GPL-2.0

//! handoffctl: configure the tcp_handoff kernel module.
//!
//! Why this tool: the module is configured only through its generic netlink
//! family "tcp_handoff" (Documentation/netlink/specs/tcp_handoff.yaml), and
//! administrators and tests need an `ip`-like command for it:
//!
//! ```text
//! handoffctl [-j [-p]] [-n NETNS] node add ID addr ADDR port PORT [weight W] [local]
//! handoffctl [...] node del ID
//! handoffctl [...] node show [ID]
//! handoffctl [...] service add|del ADDR:PORT      ([ADDR]:PORT for IPv6)
//! handoffctl [...] service show
//! handoffctl [...] rule add prio N [method M] [host H] [prefix P | suffix S | exact E]
//!                   policy local|rr|lc|hash [to ID[,ID...]]
//! handoffctl [...] rule del prio N
//! handoffctl [...] rule show
//! handoffctl [...] limits set [head-timeout MS] [handoff-timeout MS] [linger MS] [max-conns N]
//!                   [idle-timeout MS] [lard-low N] [lard-high N] [lard-shrink MS]
//! handoffctl [...] limits show
//! handoffctl [...] key add ID (secret HEX | secret-file FILE) [current]
//! handoffctl [...] key set ID current | key del ID | key show
//! handoffctl [...] stats show [services|nodes] [--rate] [-Z]
//! handoffctl [...] conn show [FILTERS]
//! handoffctl [...] save | restore | monitor
//! handoffctl [...] latency show [interval SECS [count N]] [node ID]
//! handoffctl [...] raw [--dump] OP [TYPE:HEX ...]  (hidden, for tests)
//! ```
//!
//! Exit codes: 0 success, 1 the kernel refused or the module is missing
//! (or another runtime failure), 2 invalid command line.  With `-j`, errors
//! are also printed to stdout as `{"error": "...", "errno": N}`.

mod args;
mod handoff;
mod latency;
mod netlink;

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::args::UsageError;
use crate::handoff::{
    cmd, AttrSet, Conn, Key, Limits, Node, NodeCounters, Rule, Service, ServiceCounters, Stats,
};
use crate::netlink::{FamilyInfo, NlError, Outcome, Request, Socket};

#[derive(Parser, Debug)]
#[command(
    name = "handoffctl",
    version,
    about = "Configure the tcp_handoff kernel module (generic netlink family \"tcp_handoff\")",
    subcommand_value_name = "OBJECT",
    subcommand_help_heading = "Objects",
    after_help = "Exit status: 0 on success, 1 when the kernel refused the request or \
                  the module is not loaded, 2 on invalid usage."
)]
struct Cli {
    /// Print JSON; errors are printed as {"error": ..., "errno": N} on stdout too
    #[arg(short = 'j', long, global = true)]
    json: bool,

    /// Pretty-print JSON (implies --json)
    #[arg(short = 'p', long, global = true)]
    pretty: bool,

    /// Run in network namespace NAME (/run/netns/NAME, or a path if NAME has a '/')
    #[arg(short = 'n', long, value_name = "NAME", global = true)]
    netns: Option<String>,

    /// Read commands from FILE ('-' for stdin), one per line, like ip -batch;
    /// stops at the first that fails
    #[arg(short = 'b', long, value_name = "FILE")]
    batch: Option<String>,

    #[command(subcommand)]
    object: Option<Object>,
}

#[derive(Subcommand, Debug)]
enum Object {
    /// Cluster nodes (this one and its peers)
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// Virtual services whose connections take part in handoff
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Service {
        #[command(subcommand)]
        cmd: ServiceCmd,
    },
    /// Dispatch rules: which nodes serve which requests
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Rule {
        #[command(subcommand)]
        cmd: RuleCmd,
    },
    /// Timeouts and table sizes of the network namespace
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Limits {
        #[command(subcommand)]
        cmd: LimitsCmd,
    },
    /// Keys that authenticate the control channels (secrets are never
    /// shown)
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Counters of the network namespace
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Stats {
        #[command(subcommand)]
        cmd: StatsCmd,
    },
    /// Connections the namespace tracks (like ss or ipvsadm -Lnc)
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Conn {
        #[command(subcommand)]
        cmd: ConnCmd,
    },
    /// Print the whole configuration (limits, nodes, services, rules) as
    /// commands that `restore` or `--batch` read back; keys are not part
    /// of it (their secrets are never read back)
    Save,
    /// Read a configuration that `save` printed from stdin and apply it;
    /// stops at the first command that fails
    Restore,
    /// Print events as they happen: handoffs done and failed, control
    /// channels up and down (like ip monitor; -j: one JSON object a line)
    Monitor,
    /// Handoff latency per back-end node, as live histograms sampled by a
    /// BPF program on the module's tracepoints (needs root)
    #[command(
        subcommand_value_name = "COMMAND",
        subcommand_help_heading = "Commands"
    )]
    Latency {
        #[command(subcommand)]
        cmd: LatencyCmd,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. handoffctl man | man -l -)
    Man,
    /// Send a request with arbitrary attributes (debugging and tests)
    #[command(hide = true)]
    Raw {
        /// Send a dump request (NLM_F_DUMP) instead of a "do" request
        #[arg(long)]
        dump: bool,
        /// Talk to another generic netlink family (e.g. nlctrl, to test the client)
        #[arg(long, value_name = "NAME", default_value = handoff::FAMILY_NAME)]
        family: String,
        /// Command number or name (node-add, node-del, node-get, service-add,
        /// service-del, service-get, stats-get, rule-add, rule-del, rule-get,
        /// limits-set, limits-get)
        #[arg(value_name = "OP")]
        op: String,
        /// Attributes as TYPE:HEXPAYLOAD, e.g. 99:00000001 or 6: for a flag
        #[arg(value_name = "ATTR_TYPE:HEX")]
        attrs: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum NodeCmd {
    /// Add a node
    #[command(override_usage = "handoffctl node add ID addr ADDR port PORT [weight W] [local]")]
    Add {
        /// Cluster-wide node id (1 to 4294967295)
        #[arg(value_name = "ID")]
        id: String,
        /// addr ADDR (IPv4 or IPv6), port PORT, optional weight W (0-65535, default 1)
        /// and local (this entry is the node itself)
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Delete a node
    #[command(visible_alias = "delete")]
    Del {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Show one node or all nodes
    #[command(visible_aliases = ["list", "ls"])]
    Show {
        #[arg(value_name = "ID")]
        id: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ServiceCmd {
    /// Add a service
    Add {
        /// ADDR:PORT, or [ADDR]:PORT for IPv6
        #[arg(value_name = "ADDR:PORT")]
        service: String,
    },
    /// Delete a service
    #[command(visible_alias = "delete")]
    Del {
        /// ADDR:PORT, or [ADDR]:PORT for IPv6
        #[arg(value_name = "ADDR:PORT")]
        service: String,
    },
    /// Show all services
    #[command(visible_aliases = ["list", "ls"])]
    Show,
}

#[derive(Subcommand, Debug)]
enum RuleCmd {
    /// Add a rule
    #[command(override_usage = "handoffctl rule add prio N [method M] [host H] \
                          [prefix P | suffix S | exact E] policy POLICY [to ID[,ID...]]")]
    Add {
        /// prio N (0-4294967295, unique; lower is evaluated first), optional method M,
        /// host H (*.example.com for subdomains), one of prefix/suffix/exact PATH,
        /// policy local|rr|round-robin|lc|least-conn|hash|hash-url|lard and to ID[,ID...]
        /// (node ids; 0 is this node)
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Delete a rule
    #[command(
        visible_alias = "delete",
        override_usage = "handoffctl rule del prio N"
    )]
    Del {
        /// prio N
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Show all rules, in evaluation order
    #[command(visible_aliases = ["list", "ls"])]
    Show,
}

#[derive(Subcommand, Debug)]
enum LimitsCmd {
    /// Change some limits; the others keep their values
    #[command(
        override_usage = "handoffctl limits set [head-timeout MS] [handoff-timeout MS] \
                          [linger MS] [max-conns N] [idle-timeout MS] [lard-low N] \
                          [lard-high N] [lard-shrink MS]"
    )]
    Set {
        /// head-timeout, handoff-timeout and linger in ms (10-600000),
        /// max-conns (1-1048576), idle-timeout in ms (1000-86400000),
        /// lard-low < lard-high in connections (1-1048576), lard-shrink in ms
        /// (100-3600000)
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Show the limits
    #[command(visible_aliases = ["list", "ls"])]
    Show,
}

#[derive(Subcommand, Debug)]
enum ConnCmd {
    /// List connections, front-end entries first
    #[command(
        visible_aliases = ["list", "ls"],
        override_usage = "handoffctl conn show [frontend | backend] [state STATE] [node ID] \
                          [client ADDR[:PORT]] [service ADDR:PORT]"
    )]
    Show {
        /// frontend or backend (one side only), state STATE (holding, requested,
        /// in-doubt, forwarding, tombstone, released, established, ...), node ID
        /// (the peer), client ADDR or ADDR:PORT, service ADDR:PORT
        #[arg(value_name = "FILTER")]
        args: Vec<String>,
    },
}

/// What `stats show` lays out.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum StatsView {
    /// Per-node counters
    Nodes,
    /// Per-service counters
    Services,
}

#[derive(Subcommand, Debug)]
enum StatsCmd {
    /// Show the counters
    #[command(visible_aliases = ["list", "ls"])]
    Show {
        /// services or nodes: one line of counters per service
        /// (connections, handoffs, local, packets and bytes in and out) or
        /// per node (handoffs, forwarded and sent packets and bytes), like
        /// ipvsadm -Ln --stats
        #[arg(value_name = "VIEW")]
        view: Option<StatsView>,
        /// Per-second rates over one second instead of totals (gauges as
        /// they are), like ipvsadm --rate
        #[arg(long)]
        rate: bool,
        /// Zero the counters once shown, like ipvsadm -Z
        #[arg(short = 'Z', long)]
        zero: bool,
    },
    /// Zero the counters (gauges keep their values), like ipvsadm -Z
    #[command(visible_aliases = ["reset"])]
    Zero,
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Add a key; the first key turns authentication on (channels
    /// reconnect and must prove they hold a key)
    #[command(override_usage = "handoffctl key add ID (secret HEX | secret-file FILE) [current]")]
    Add {
        /// Key id, 1 to 255, the same on every node
        #[arg(value_name = "ID")]
        id: String,
        /// secret HEX (16 to 64 bytes as hex digits), or secret-file FILE
        /// holding them; current: send with this key from now on
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Make a key current: the one this node sends with
    #[command(override_usage = "handoffctl key set ID current")]
    Set {
        #[arg(value_name = "ID")]
        id: String,
        /// current
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
    /// Delete a key (the current one only as the last one)
    #[command(visible_alias = "delete")]
    Del {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Show the keys' ids and which is current
    #[command(visible_aliases = ["list", "ls"])]
    Show,
}

#[derive(Subcommand, Debug)]
enum LatencyCmd {
    /// Trace handoffs and print a histogram of their latency per node:
    /// from the front-end's request until the back-end's answer
    #[command(override_usage = "handoffctl latency show [interval SECS [count N]] [node ID]")]
    Show {
        /// interval SECS: print (and restart) the histograms every SECS
        /// seconds, else once on Ctrl-C; count N: stop after N intervals;
        /// node ID: only handoffs to that node
        #[arg(value_name = "KEYWORDS")]
        args: Vec<String>,
    },
}

/// Why handoffctl failed.
#[derive(Debug)]
enum AppError {
    /// Bad command line (exit 2).
    Usage(String),
    /// The generic netlink family does not exist.
    NotLoaded,
    /// A netlink request failed; `set` names the attributes of the request.
    Netlink { err: NlError, set: Option<AttrSet> },
    /// Any other runtime failure, with its errno.
    Other { msg: String, errno: i32 },
}

impl From<UsageError> for AppError {
    fn from(e: UsageError) -> Self {
        AppError::Usage(e.0)
    }
}

/// Names an attribute type for messages: its spec name if known.
fn attr_label(set: Option<AttrSet>, ty: u32) -> String {
    match set.and_then(|s| s.attr_name(ty)) {
        Some(name) => format!("{name} (type {ty})"),
        None => format!("type {ty}"),
    }
}

impl AppError {
    fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage(_) => 2,
            _ => 1,
        }
    }

    fn errno(&self) -> i32 {
        match self {
            AppError::Usage(_) => libc::EINVAL,
            AppError::NotLoaded => libc::ENOENT,
            AppError::Netlink { err, .. } => err.errno(),
            AppError::Other { errno, .. } => *errno,
        }
    }

    /// The message, without the "handoffctl: " prefix.
    fn message(&self) -> String {
        match self {
            AppError::Usage(m) | AppError::Other { msg: m, .. } => m.clone(),
            AppError::NotLoaded => {
                "the tcp_handoff module is not loaded (generic netlink family not found)".into()
            }
            AppError::Netlink { err, set } => {
                let mut s = err.to_string();
                if let NlError::Kernel(k) = err {
                    if let Some(ty) = k.ext.miss_type {
                        s.push_str(&format!(" (missing attribute: {}", attr_label(*set, ty)));
                        if let Some(nest) = k.ext.miss_nest.filter(|&n| n != 0) {
                            s.push_str(&format!(" in the nest at offset {nest}"));
                        }
                        s.push(')');
                    }
                    match (k.bad_attr, k.ext.offset) {
                        (Some(ty), _) => s.push_str(&format!(
                            " (offending attribute: {})",
                            attr_label(*set, ty.into())
                        )),
                        (None, Some(off)) => {
                            s.push_str(&format!(" (offending attribute at offset {off})"))
                        }
                        (None, None) => {}
                    }
                }
                s
            }
        }
    }
}

#[derive(Serialize)]
struct JsonError<'a> {
    error: &'a str,
    errno: i32,
}

/// Output settings.
#[derive(Debug, Clone, Copy)]
struct Output {
    json: bool,
    pretty: bool,
}

impl Output {
    fn json<T: Serialize + ?Sized>(&self, value: &T) -> String {
        let text = if self.pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        // Serializing plain structs, strings and numbers can not fail.
        let mut text = text.unwrap_or_else(|_| "null".into());
        text.push('\n');
        text
    }

    fn error(&self, err: &AppError) {
        let msg = err.message();
        // stderr may be closed; nothing more to do then.
        let _ = writeln!(io::stderr(), "handoffctl: {msg}");
        if self.json {
            let _ = write_stdout(&self.json(&JsonError {
                error: &msg,
                errno: err.errno(),
            }));
        }
    }
}

fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn warn(msg: &str) {
    let _ = writeln!(io::stderr(), "handoffctl: warning: {msg}");
}

/// Moves this (single-threaded) process into a named network namespace,
/// like `ip -n NAME`.
fn enter_netns(name: &str) -> Result<(), AppError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(AppError::Usage(format!(
            "invalid network namespace name \"{name}\""
        )));
    }
    let path = if name.contains('/') {
        PathBuf::from(name)
    } else {
        PathBuf::from("/run/netns").join(name)
    };
    let file = File::open(&path).map_err(|e| AppError::Other {
        msg: format!(
            "cannot open network namespace \"{name}\": {}",
            netlink::strerror(e.raw_os_error().unwrap_or(libc::EIO))
        ),
        errno: e.raw_os_error().unwrap_or(libc::EIO),
    })?;
    // SAFETY: `file` is an open descriptor for the duration of the call;
    // setns() only reads it.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc < 0 {
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        return Err(AppError::Other {
            msg: format!(
                "setting the network namespace \"{name}\" failed: {}",
                netlink::strerror(errno)
            ),
            errno,
        });
    }
    Ok(())
}

/// A connection to the tcp_handoff family.
struct Client {
    sock: Socket,
    family: FamilyInfo,
    /// Whether the family is tcp_handoff, whose attribute names we know.
    ours: bool,
}

impl Client {
    fn connect(name: &str) -> Result<Self, AppError> {
        let ours = name == handoff::FAMILY_NAME;
        let mut sock = Socket::open().map_err(|err| AppError::Netlink { err, set: None })?;
        let family = match sock.resolve_family(name) {
            Ok(f) => f,
            Err(NlError::Kernel(k)) if k.errno == libc::ENOENT && ours => {
                return Err(AppError::NotLoaded)
            }
            Err(NlError::Kernel(k)) if k.errno == libc::ENOENT => {
                return Err(AppError::Other {
                    msg: format!("generic netlink family \"{name}\" not found"),
                    errno: libc::ENOENT,
                })
            }
            Err(err) => return Err(AppError::Netlink { err, set: None }),
        };
        Ok(Client { sock, family, ours })
    }

    fn request(&self, cmd: u8, dump: bool) -> Request {
        let flags = if dump {
            netlink::NLM_F_REQUEST | netlink::NLM_F_DUMP
        } else {
            netlink::NLM_F_REQUEST | netlink::NLM_F_ACK
        };
        handoff::request(self.family.id, flags, cmd)
    }

    /// Dumps `op` and decodes each reply with `parse`.
    fn dump<T>(
        &mut self,
        op: u8,
        parse: fn(&netlink::GenlReply) -> Result<T, netlink::ParseError>,
    ) -> Result<Vec<T>, AppError> {
        let mut req = self.request(op, true);
        let outcome = self.run(&mut req)?;
        outcome
            .replies
            .iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed)
    }

    /// The namespace's limits (limits-get).
    fn stats(&mut self) -> Result<Stats, AppError> {
        let mut req = self.request(cmd::STATS_GET, false);
        let outcome = self.run(&mut req)?;
        let Some(reply) = outcome.replies.first() else {
            return Err(malformed(netlink::ParseError(
                "stats-get returned no counters".into(),
            )));
        };
        Stats::parse(reply).map_err(malformed)
    }

    fn limits(&mut self) -> Result<Limits, AppError> {
        let mut req = self.request(cmd::LIMITS_GET, false);
        let outcome = self.run(&mut req)?;
        let Some(reply) = outcome.replies.first() else {
            return Err(malformed(netlink::ParseError(
                "limits-get returned no limits".into(),
            )));
        };
        Limits::parse(reply).map_err(malformed)
    }

    fn run(&mut self, req: &mut Request) -> Result<Outcome, AppError> {
        let outcome = self.sock.transact(req).map_err(|err| AppError::Netlink {
            err,
            set: if self.ours {
                handoff::cmd_attr_set(req.cmd())
            } else {
                None
            },
        })?;
        if let Some(w) = &outcome.warning {
            warn(w);
        }
        if outcome.interrupted {
            warn("the dump was interrupted and may be inconsistent");
        }
        Ok(outcome)
    }
}

fn malformed(e: netlink::ParseError) -> AppError {
    AppError::Netlink {
        err: NlError::Protocol(e.0),
        set: None,
    }
}

#[derive(Serialize)]
struct RawAttr {
    #[serde(rename = "type")]
    ty: u16,
    hex: String,
}

#[derive(Serialize)]
struct RawReply {
    cmd: u8,
    version: u8,
    attrs: Vec<RawAttr>,
}

/// What to do, with every command line value already validated: [`plan`]
/// runs before the network namespace or netlink are touched, so that usage
/// errors (exit 2) are reported first.
enum Action {
    NodeAdd(handoff::NodeSpec),
    NodeDel(u32),
    NodeShow(Option<u32>),
    ServiceAdd(std::net::SocketAddr),
    ServiceDel(std::net::SocketAddr),
    ServiceShow,
    RuleAdd(handoff::RuleSpec),
    RuleDel(u32),
    RuleShow,
    LimitsSet(Vec<(u16, u32)>),
    LimitsShow,
    KeyAdd(args::KeySpec),
    KeySet(u32),
    KeyDel(u32),
    KeyShow,
    StatsShow {
        rate: bool,
        zero: bool,
    },
    StatsPer {
        view: StatsView,
        zero: bool,
    },
    StatsZero,
    ConnShow(args::ConnFilter),
    Save,
    Raw {
        dump: bool,
        family: String,
        op: u8,
        attrs: Vec<(u16, Vec<u8>)>,
    },
}

fn plan(object: &Object) -> Result<Action, UsageError> {
    Ok(match object {
        Object::Node { cmd } => match cmd {
            NodeCmd::Add { id, args } => Action::NodeAdd(args::parse_node_add(id, args)?),
            NodeCmd::Del { id } => Action::NodeDel(args::parse_id(id)?),
            NodeCmd::Show { id } => {
                Action::NodeShow(id.as_deref().map(args::parse_id).transpose()?)
            }
        },
        Object::Service { cmd } => match cmd {
            ServiceCmd::Add { service } => Action::ServiceAdd(args::parse_service(service)?),
            ServiceCmd::Del { service } => Action::ServiceDel(args::parse_service(service)?),
            ServiceCmd::Show => Action::ServiceShow,
        },
        Object::Rule { cmd } => match cmd {
            RuleCmd::Add { args } => Action::RuleAdd(args::parse_rule_add(args)?),
            RuleCmd::Del { args } => Action::RuleDel(args::parse_rule_del(args)?),
            RuleCmd::Show => Action::RuleShow,
        },
        Object::Limits { cmd } => match cmd {
            LimitsCmd::Set { args } => Action::LimitsSet(args::parse_limits_set(args)?),
            LimitsCmd::Show => Action::LimitsShow,
        },
        Object::Key { cmd } => match cmd {
            KeyCmd::Add { id, args } => Action::KeyAdd(args::parse_key_add(id, args, |p| {
                std::fs::read_to_string(p).map_err(|e| e.to_string())
            })?),
            KeyCmd::Set { id, args } => {
                if args.len() != 1 || args[0] != "current" {
                    return Err(UsageError(
                        "key set: the one thing to set is \"current\" (key set ID current)".into(),
                    ));
                }
                Action::KeySet(args::parse_key_id(id)?)
            }
            KeyCmd::Del { id } => Action::KeyDel(args::parse_key_id(id)?),
            KeyCmd::Show => Action::KeyShow,
        },
        Object::Stats {
            cmd:
                StatsCmd::Show {
                    view: Some(view),
                    rate,
                    zero,
                },
        } => {
            if *rate {
                return Err(UsageError(
                    "stats show: --rate is not supported per node or service".into(),
                ));
            }
            Action::StatsPer {
                view: *view,
                zero: *zero,
            }
        }
        Object::Stats {
            cmd:
                StatsCmd::Show {
                    view: None,
                    rate,
                    zero,
                },
        } => Action::StatsShow {
            rate: *rate,
            zero: *zero,
        },
        Object::Stats {
            cmd: StatsCmd::Zero,
        } => Action::StatsZero,
        Object::Conn {
            cmd: ConnCmd::Show { args },
        } => Action::ConnShow(args::parse_conn_filter(args)?),
        Object::Save => Action::Save,
        Object::Completion { .. } | Object::Man | Object::Monitor | Object::Latency { .. } => {
            return Err(UsageError(
                "completion, man, monitor and latency are not batch commands".into(),
            ))
        }
        Object::Restore => {
            return Err(UsageError(
                "restore reads its commands from stdin and cannot be nested in a batch".into(),
            ))
        }
        Object::Raw {
            dump,
            family,
            op,
            attrs,
        } => Action::Raw {
            dump: *dump,
            family: family.clone(),
            op: args::parse_raw_op(op)?,
            attrs: attrs
                .iter()
                .map(|a| args::parse_raw_attr(a))
                .collect::<Result<_, _>>()?,
        },
    })
}

/// Rows as JSON (-j), or a header line and one line each.
fn table<T: Serialize>(
    out: Output,
    rows: &[T],
    header: &str,
    line: impl Fn(&T) -> String,
) -> String {
    if out.json {
        return out.json(rows);
    }
    let mut text = format!("{header}\n");
    for r in rows {
        text.push_str(&line(r));
        text.push('\n');
    }
    text
}

/// Runs the action and returns what to print on stdout.
/// A `show` of items: their JSON array with `-j`, else one line each.
fn listing<T: Serialize>(out: Output, items: &[T], line: fn(&T) -> String) -> String {
    if out.json {
        return out.json(items);
    }
    items.iter().map(|i| line(i) + "\n").collect()
}

fn execute(action: Action, out: Output) -> Result<String, AppError> {
    let family = match &action {
        Action::Raw { family, .. } => family.as_str(),
        _ => handoff::FAMILY_NAME,
    };
    let mut client = Client::connect(family)?;
    let mut text = String::new();
    match action {
        Action::NodeAdd(node) => {
            let mut req = client.request(cmd::NODE_ADD, false);
            handoff::put_node(&mut req, &node);
            client.run(&mut req)?;
        }
        Action::NodeDel(id) => {
            let mut req = client.request(cmd::NODE_DEL, false);
            req.put_u32(handoff::node_attr::ID, id);
            client.run(&mut req)?;
        }
        Action::NodeShow(id) => {
            let mut req = client.request(cmd::NODE_GET, id.is_none());
            if let Some(id) = id {
                req.put_u32(handoff::node_attr::ID, id);
            }
            let outcome = client.run(&mut req)?;
            let nodes = outcome
                .replies
                .iter()
                .map(Node::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(malformed)?;
            text = listing(out, &nodes, Node::to_line);
        }
        Action::ServiceAdd(svc) => {
            let mut req = client.request(cmd::SERVICE_ADD, false);
            handoff::put_service(&mut req, svc);
            client.run(&mut req)?;
        }
        Action::ServiceDel(svc) => {
            let mut req = client.request(cmd::SERVICE_DEL, false);
            handoff::put_service(&mut req, svc);
            client.run(&mut req)?;
        }
        Action::KeyAdd(k) => {
            let mut req = client.request(cmd::KEY_ADD, false);
            req.put_u32(handoff::key_attr::ID, k.id);
            req.put(handoff::key_attr::SECRET, &k.secret)
                .map_err(|e| AppError::Usage(e.to_string()))?;
            if k.current {
                req.put_flag(handoff::key_attr::CURRENT);
            }
            client.run(&mut req)?;
        }
        Action::KeySet(id) => {
            let mut req = client.request(cmd::KEY_SET, false);
            req.put_u32(handoff::key_attr::ID, id);
            req.put_flag(handoff::key_attr::CURRENT);
            client.run(&mut req)?;
        }
        Action::KeyDel(id) => {
            let mut req = client.request(cmd::KEY_DEL, false);
            req.put_u32(handoff::key_attr::ID, id);
            client.run(&mut req)?;
        }
        Action::KeyShow => {
            let keys = client.dump(cmd::KEY_GET, Key::parse)?;
            text = listing(out, &keys, Key::to_line);
        }
        Action::ServiceShow => {
            let services = client.dump(cmd::SERVICE_GET, Service::parse)?;
            text = listing(out, &services, Service::to_line);
        }
        Action::RuleAdd(rule) => {
            let mut req = client.request(cmd::RULE_ADD, false);
            // Lengths were checked when parsing the arguments.
            handoff::put_rule(&mut req, &rule).map_err(|e| AppError::Usage(e.to_string()))?;
            client.run(&mut req)?;
        }
        Action::RuleDel(prio) => {
            let mut req = client.request(cmd::RULE_DEL, false);
            req.put_u32(handoff::rule_attr::PRIO, prio);
            client.run(&mut req)?;
        }
        Action::RuleShow => {
            let rules = client.dump(cmd::RULE_GET, Rule::parse)?;
            text = listing(out, &rules, Rule::to_line);
        }
        Action::LimitsSet(limits) => {
            let mut req = client.request(cmd::LIMITS_SET, false);
            handoff::put_limits(&mut req, &limits);
            client.run(&mut req)?;
        }
        Action::LimitsShow => {
            let limits = client.limits()?;
            if out.json {
                text = out.json(&limits);
            } else {
                for (name, value) in limits.entries() {
                    text.push_str(&format!("{name} {value}\n"));
                }
            }
        }
        Action::StatsShow { rate, zero } => {
            let stats = client.stats()?;
            if rate {
                let t0 = std::time::Instant::now();
                std::thread::sleep(std::time::Duration::from_secs(1));
                let later = client.stats()?;
                let rates = later.rates(&stats, t0.elapsed().as_secs_f64());
                if out.json {
                    text = out.json(&handoff::Ordered(&rates));
                } else {
                    for (name, value) in rates {
                        text.push_str(&format!("{name} {value:.1}\n"));
                    }
                }
            } else if out.json {
                text = out.json(&stats);
            } else {
                for (name, value) in stats.entries() {
                    text.push_str(&format!("{name} {value}\n"));
                }
            }
            if zero {
                client.run(&mut client.request(cmd::STATS_RESET, false))?;
            }
        }
        Action::StatsPer { view, zero } => {
            text = match view {
                StatsView::Nodes => {
                    let rows = client.dump(cmd::NODE_GET, NodeCounters::parse)?;
                    table(out, &rows, &NodeCounters::header(), NodeCounters::to_line)
                }
                StatsView::Services => {
                    let rows = client.dump(cmd::SERVICE_GET, ServiceCounters::parse)?;
                    table(
                        out,
                        &rows,
                        &ServiceCounters::header(),
                        ServiceCounters::to_line,
                    )
                }
            };
            if zero {
                client.run(&mut client.request(cmd::STATS_RESET, false))?;
            }
        }
        Action::StatsZero => {
            client.run(&mut client.request(cmd::STATS_RESET, false))?;
        }
        Action::ConnShow(filter) => {
            let conns: Vec<Conn> = client
                .dump(cmd::CONN_GET, Conn::parse)?
                .into_iter()
                .filter(|c| filter.matches(c))
                .collect();
            text = table(out, &conns, Conn::HEADER, Conn::to_line);
        }
        Action::Save => {
            let config = save(&mut client)?;
            text = if out.json {
                out.json(&config)
            } else {
                config.to_commands()
            };
        }
        Action::Raw {
            dump, op, attrs, ..
        } => {
            let mut req = client.request(op, dump);
            for (ty, payload) in &attrs {
                // Lengths were checked when parsing the arguments.
                req.put(*ty, payload)
                    .map_err(|e| AppError::Usage(e.to_string()))?;
            }
            let outcome = client.run(&mut req)?;
            let mut replies = Vec::new();
            for r in &outcome.replies {
                let attrs = r
                    .attrs()
                    .map(|a| {
                        a.map(|a| RawAttr {
                            ty: a.raw_type,
                            hex: args::to_hex(a.payload),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(malformed)?;
                replies.push(RawReply {
                    cmd: r.cmd,
                    version: r.version,
                    attrs,
                });
            }
            if out.json {
                text = out.json(&replies);
            } else {
                for r in &replies {
                    text.push_str(&format!("reply cmd {} version {}", r.cmd, r.version));
                    for a in &r.attrs {
                        text.push_str(&format!(" {}:{}", a.ty, a.hex));
                    }
                    text.push('\n');
                }
            }
        }
    }
    Ok(text)
}

/// The whole configuration of a namespace, as `save` prints it.
#[derive(Serialize)]
struct Config {
    limits: Limits,
    nodes: Vec<Node>,
    services: Vec<Service>,
    rules: Vec<Rule>,
}

impl Config {
    /// One command per line, in an order that restores into an empty
    /// namespace: limits, nodes, services, rules (in prio order).
    fn to_commands(&self) -> String {
        let mut text = String::new();
        let limits: Vec<String> = self
            .limits
            .entries()
            .iter()
            .map(|(name, value)| format!("{name} {value}"))
            .collect();
        if !limits.is_empty() {
            text.push_str(&format!("limits set {}\n", limits.join(" ")));
        }
        for n in &self.nodes {
            text.push_str(&n.to_command());
            text.push('\n');
        }
        for svc in &self.services {
            text.push_str(&svc.to_command());
            text.push('\n');
        }
        for r in &self.rules {
            text.push_str(&r.to_command());
            text.push('\n');
        }
        text
    }
}

/// Dumps every part of the configuration.
fn save(client: &mut Client) -> Result<Config, AppError> {
    Ok(Config {
        limits: client.limits()?,
        nodes: client.dump(cmd::NODE_GET, Node::parse)?,
        services: client.dump(cmd::SERVICE_GET, Service::parse)?,
        rules: client.dump(cmd::RULE_GET, Rule::parse)?,
    })
}

/// Prints the family's events until killed (or stdout closes). Each line
/// is written as it comes, so a pipe or file sees events at once.
fn monitor(netns: Option<&str>, out: Output) -> Result<String, AppError> {
    if let Some(ns) = netns {
        enter_netns(ns)?;
    }
    let mut client = Client::connect(handoff::FAMILY_NAME)?;
    let Some(&(_, group)) = client
        .family
        .mcast_groups
        .iter()
        .find(|(name, _)| name == handoff::EVENTS_GROUP)
    else {
        return Err(AppError::Other {
            msg: "the loaded tcp_handoff has no events group (an older module?)".into(),
            errno: libc::ENOENT,
        });
    };
    client
        .sock
        .subscribe(group)
        .map_err(|err| AppError::Netlink { err, set: None })?;
    // Like tcpdump's "listening on": scripts wait for it before they act.
    let _ = writeln!(io::stderr(), "handoffctl: listening for tcp_handoff events");
    let family = client.family.id;
    loop {
        let events = match client.sock.notifications(family) {
            Ok(ev) => ev,
            Err(NlError::Io { err, .. }) if err.raw_os_error() == Some(libc::ENOBUFS) => {
                // The kernel dropped events this reader was too slow for:
                // say so, and go on.
                let _ = writeln!(io::stderr(), "handoffctl: events were lost (ENOBUFS)");
                continue;
            }
            Err(err) => return Err(AppError::Netlink { err, set: None }),
        };
        for ev in events.iter().filter(|r| r.cmd == cmd::EVENT_NTF) {
            let ev = handoff::Event::parse(ev).map_err(malformed)?;
            let line = if out.json {
                out.json(&ev)
            } else {
                format!("{}\n", ev.to_line())
            };
            if write_stdout(&line).is_err() {
                return Ok(String::new());
            }
        }
    }
}

/// Whether the raw command line asked for JSON; used only to report clap's
/// own usage errors as JSON too.
fn wants_json(args: &[String]) -> bool {
    for a in args.iter().skip(1) {
        match a.as_str() {
            "--" => break,
            "--json" | "--pretty" => return true,
            s if s.len() > 1
                && s.starts_with('-')
                && !s.starts_with("--")
                && s[1..].bytes().all(|b| matches!(b, b'j' | b'p' | b'n'))
                && s[1..].bytes().any(|b| matches!(b, b'j' | b'p')) =>
            {
                return true
            }
            _ => {}
        }
    }
    false
}

/// Splits one batch line into words: blanks separate them, `"..."` and
/// `'...'` quote, a backslash outside quotes takes the next character
/// literally, `#` starts a comment outside quotes.
fn batch_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            cur.get_or_insert_with(String::new).push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (None, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (None, '#') if cur.is_none() => break,
            (None, c) if c.is_whitespace() => words.extend(cur.take()),
            (None, c) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if escaped {
        return Err("a backslash ends the line".into());
    }
    words.extend(cur);
    Ok(words)
}

/// The command of one batch line (its words). Global options are the
/// batch's own: a line with -j or -p would otherwise be printed as the
/// batch prints, silently, so it is refused like one with -n or -b.
fn batch_object(words: Vec<String>) -> Result<Object, AppError> {
    let argv = std::iter::once("handoffctl".to_string()).chain(words);
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            object: Some(object),
            batch: None,
            netns: None,
            json: false,
            pretty: false,
        }) => Ok(object),
        Ok(_) => Err(AppError::Usage(
            "a batch line is one command, without the options -j, -p, -n and -b \
             (give them to the batch)"
                .into(),
        )),
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid usage");
            Err(AppError::Usage(
                first.strip_prefix("error: ").unwrap_or(first).into(),
            ))
        }
    }
}

/// Runs every command of a batch file in one process (and one namespace
/// switch): the cheap way to load hundreds of rules. Each line is what
/// would follow `handoffctl` on a command line, without global options.
/// Stops at the first failing line, naming it on stderr, with that
/// command's exit code.
fn batch(file: &str, netns: Option<&str>, out: Output) -> ExitCode {
    let text = if file == "-" {
        let mut t = String::new();
        io::Read::read_to_string(&mut io::stdin(), &mut t).map(|_| t)
    } else {
        std::fs::read_to_string(file)
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            out.error(&AppError::Other {
                msg: format!("cannot read batch file {file}: {e}"),
                errno: e.raw_os_error().unwrap_or(libc::EIO),
            });
            return ExitCode::from(1);
        }
    };
    if let Some(ns) = netns {
        if let Err(e) = enter_netns(ns) {
            out.error(&e);
            return ExitCode::from(e.exit_code());
        }
    }
    for (n, line) in text.lines().enumerate() {
        let fail = |err: AppError| {
            out.error(&err);
            let _ = writeln!(
                io::stderr(),
                "handoffctl: batch {file} line {} failed",
                n + 1
            );
            ExitCode::from(err.exit_code())
        };
        let words = match batch_words(line) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(e) => return fail(AppError::Usage(e)),
        };
        let object = match batch_object(words) {
            Ok(object) => object,
            Err(e) => return fail(e),
        };
        match plan(&object)
            .map_err(AppError::from)
            .and_then(|a| execute(a, out))
        {
            Ok(text) => {
                if !text.is_empty() && write_stdout(&text).is_err() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() && wants_json(&argv) {
                let rendered = e.to_string();
                let first = rendered.lines().next().unwrap_or("invalid usage");
                let msg = first.strip_prefix("error: ").unwrap_or(first);
                let out = Output {
                    json: true,
                    pretty: false,
                };
                let _ = write_stdout(&out.json(&JsonError {
                    error: msg,
                    errno: libc::EINVAL,
                }));
            }
            // Prints help/version (exit 0) or the usage error (exit 2).
            e.exit();
        }
    };
    let out = Output {
        json: cli.json || cli.pretty,
        pretty: cli.pretty,
    };

    let result = match (&cli.object, &cli.batch) {
        (Some(Object::Completion { shell }), None) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "handoffctl", &mut io::stdout());
            return ExitCode::SUCCESS;
        }
        (Some(Object::Man), None) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            return match clap_mangen::Man::new(cmd)
                .section("8")
                .render(&mut io::stdout())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(1),
            };
        }
        (Some(Object::Monitor), None) => monitor(cli.netns.as_deref(), out),
        (
            Some(Object::Latency {
                cmd: LatencyCmd::Show { args },
            }),
            None,
        ) => latency::parse_latency_args(args)
            .map_err(AppError::from)
            .and_then(|args| {
                if let Some(ns) = &cli.netns {
                    enter_netns(ns)?;
                }
                let style = latency::Style {
                    json: out.json,
                    pretty: out.pretty,
                };
                latency::run(&args, style)
                    .map(|()| String::new())
                    .map_err(|e| AppError::Other {
                        msg: e.msg,
                        errno: e.errno,
                    })
            }),
        (Some(Object::Restore), None) => {
            return batch("-", cli.netns.as_deref(), out);
        }
        (Some(_), Some(_)) => Err(AppError::Usage(
            "--batch takes its commands from the file, not the command line".into(),
        )),
        (Some(object), None) => plan(object).map_err(AppError::from).and_then(|action| {
            if let Some(ns) = &cli.netns {
                enter_netns(ns)?;
            }
            execute(action, out)
        }),
        (None, Some(file)) => {
            return batch(file, cli.netns.as_deref(), out);
        }
        (None, None) => Err(AppError::Usage(
            "an OBJECT (node, service, rule, limits, key, stats, conn, save, restore, \
             monitor, latency) or --batch FILE is required"
                .into(),
        )),
    };
    match result {
        Ok(text) => {
            if !text.is_empty() && write_stdout(&text).is_err() {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{ExtAck, KernelError};
    use clap::CommandFactory;

    fn kernel(errno: i32, ext: ExtAck, bad_attr: Option<u16>, set: Option<AttrSet>) -> AppError {
        AppError::Netlink {
            err: NlError::Kernel(KernelError {
                errno,
                ext,
                bad_attr,
            }),
            set,
        }
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("handoffctl").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn grammar() {
        let cli = parse(&[
            "-j",
            "node",
            "add",
            "2",
            "addr",
            "198.51.100.2",
            "port",
            "7000",
            "weight",
            "1",
            "local",
        ])
        .unwrap();
        assert!(cli.json);
        match plan(cli.object.as_ref().unwrap()).unwrap() {
            Action::NodeAdd(n) => {
                assert_eq!(n.id, 2);
                assert_eq!(n.port, 7000);
                assert!(n.local);
            }
            _ => panic!("wrong action"),
        }
        let cli = parse(&["-n", "ns1", "node", "show"]).unwrap();
        assert_eq!(cli.netns.as_deref(), Some("ns1"));
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::NodeShow(None)
        ));
        let cli = parse(&["node", "show", "3", "-p"]).unwrap();
        assert!(cli.pretty);
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::NodeShow(Some(3))
        ));
        let cli = parse(&["service", "add", "[2001:db8::1]:80"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::ServiceAdd(_)
        ));
        let cli = parse(&["stats", "show"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::StatsShow {
                rate: false,
                zero: false
            }
        ));
        let cli = parse(&["stats", "show", "--rate", "-Z"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::StatsShow {
                rate: true,
                zero: true
            }
        ));
        let cli = parse(&["stats", "reset"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::StatsZero
        ));
        let cli = parse(&["raw", "node-add", "99:00000001", "1:02000000"]).unwrap();
        match plan(cli.object.as_ref().unwrap()).unwrap() {
            Action::Raw {
                dump,
                op,
                attrs,
                family,
            } => {
                assert!(!dump);
                assert_eq!(family, "tcp_handoff");
                assert_eq!(op, 1);
                assert_eq!(attrs, vec![(99, vec![0, 0, 0, 1]), (1, vec![2, 0, 0, 0])]);
            }
            _ => panic!("wrong action"),
        }
        let cli = parse(&[
            "rule", "add", "prio", "10", "method", "GET", "prefix", "/a/", "policy", "rr", "to",
            "2,3",
        ])
        .unwrap();
        match plan(cli.object.as_ref().unwrap()).unwrap() {
            Action::RuleAdd(r) => {
                assert_eq!(r.prio, 10);
                assert_eq!(r.targets, vec![2, 3]);
                assert_eq!(r.policy, handoff::RulePolicy::RoundRobin);
            }
            _ => panic!("wrong action"),
        }
        let cli = parse(&["rule", "del", "prio", "10"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::RuleDel(10)
        ));
        let cli = parse(&["-j", "rule", "show"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::RuleShow
        ));
        let cli = parse(&["rule", "ls"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::RuleShow
        ));
        let cli = parse(&["limits", "set", "linger", "500"]).unwrap();
        match plan(cli.object.as_ref().unwrap()).unwrap() {
            Action::LimitsSet(l) => assert_eq!(l, vec![(handoff::limits_attr::LINGER_MS, 500)]),
            _ => panic!("wrong action"),
        }
        let cli = parse(&["limits", "show"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::LimitsShow
        ));
        let cli = parse(&["raw", "rule-get"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::Raw { op: 10, .. }
        ));
        let cli = parse(&["raw", "--dump", "3"]).unwrap();
        assert!(matches!(
            plan(cli.object.as_ref().unwrap()).unwrap(),
            Action::Raw {
                dump: true,
                op: 3,
                ..
            }
        ));
    }

    #[test]
    fn batch_lines_split_like_a_shell() {
        assert_eq!(
            batch_words("rule add prio 1 host 'a b' # c").unwrap(),
            ["rule", "add", "prio", "1", "host", "a b"]
        );
        assert!(batch_words("  # only a comment").unwrap().is_empty());
        assert!(batch_words("").unwrap().is_empty());
        assert_eq!(batch_words("x \"\" y").unwrap(), ["x", "", "y"]);
        assert_eq!(batch_words("a#b").unwrap(), ["a#b"]);
        assert!(batch_words("host 'a").is_err());
        // A line is a command; the options are the batch's.
        let line = |l: &str| batch_object(batch_words(l).unwrap());
        assert!(matches!(line("node show"), Ok(Object::Node { .. })));
        for bad in [
            "-j node show",
            "node show -p",
            "-n x node show",
            "-b f",
            "--json save",
        ] {
            let e = line(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.message().contains("-j, -p, -n and -b"), "{bad}");
        }
        assert!(line("node frob")
            .expect_err("node frob")
            .message()
            .contains("unrecognized subcommand"));
        // Either --batch or an object: main refuses both or neither.
        assert!(parse(&["-b", "f"]).unwrap().object.is_none());
        assert!(parse(&[]).unwrap().batch.is_none());
    }

    #[test]
    fn usage_errors() {
        assert!(parse(&["node"]).is_err());
        assert!(parse(&["node", "frob"]).is_err());
        assert!(parse(&["service", "add"]).is_err());
        for bad in [
            &["node", "add", "2", "addr", "999.1.1.1", "port", "7000"][..],
            &["node", "add", "2", "addr", "1.2.3.4", "port", "0"],
            &["node", "add", "2", "addr", "1.2.3.4", "port", "70000"],
            &["node", "del", "x"],
            &["service", "add", "1.2.3.4:0"],
            &["service", "del", "1.2.3.4:70000"],
            &["raw", "node-frob"],
            &["raw", "1", "99:0"],
            &["rule", "add", "prio", "1"],
            &["rule", "add", "prio", "1", "policy", "rnd"],
            &[
                "rule", "add", "prio", "1", "prefix", "/", "exact", "/", "policy", "local",
            ],
            &["rule", "del"],
            &["rule", "del", "prio", "x"],
            &["limits", "set"],
            &["limits", "set", "max-conns", "0"],
            &["limits", "set", "linger", "1"],
        ] {
            let cli = parse(bad).unwrap();
            let object = cli.object.expect("an object");
            let err = AppError::from(plan(&object).err().expect("must fail"));
            assert_eq!(err.exit_code(), 2, "{:?}", bad);
            assert_eq!(err.errno(), libc::EINVAL);
        }
    }

    #[test]
    fn json_detection() {
        let v = |a: &[&str]| -> Vec<String> {
            std::iter::once("handoffctl")
                .chain(a.iter().copied())
                .map(String::from)
                .collect()
        };
        assert!(wants_json(&v(&["-j", "node"])));
        assert!(wants_json(&v(&["-jp", "node"])));
        assert!(wants_json(&v(&["--pretty", "node"])));
        assert!(!wants_json(&v(&["node", "show"])));
        assert!(!wants_json(&v(&["-n", "ns", "node"])));
        assert!(!wants_json(&v(&["--", "-j"])));
    }

    #[test]
    fn kernel_error_messages() {
        let e = kernel(
            libc::EEXIST,
            ExtAck {
                msg: Some("a node with this id exists".into()),
                ..Default::default()
            },
            None,
            Some(AttrSet::Node),
        );
        assert_eq!(e.message(), "File exists: a node with this id exists");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.errno(), libc::EEXIST);

        let e = kernel(
            libc::EINVAL,
            ExtAck {
                miss_type: Some(4),
                ..Default::default()
            },
            None,
            Some(AttrSet::Node),
        );
        assert_eq!(
            e.message(),
            "Invalid argument (missing attribute: port (type 4))"
        );

        let e = kernel(
            libc::EINVAL,
            ExtAck {
                msg: Some("Unknown attribute type".into()),
                offset: Some(28),
                ..Default::default()
            },
            Some(99),
            Some(AttrSet::Node),
        );
        assert_eq!(
            e.message(),
            "Invalid argument: Unknown attribute type (offending attribute: type 99)"
        );

        let e = kernel(
            libc::ERANGE,
            ExtAck {
                offset: Some(40),
                ..Default::default()
            },
            None,
            None,
        );
        assert_eq!(
            e.message(),
            "Numerical result out of range (offending attribute at offset 40)"
        );

        assert_eq!(
            AppError::NotLoaded.message(),
            "the tcp_handoff module is not loaded (generic netlink family not found)"
        );
        assert_eq!(AppError::NotLoaded.exit_code(), 1);
    }

    #[test]
    fn json_error_shape() {
        let out = Output {
            json: true,
            pretty: false,
        };
        assert_eq!(
            out.json(&JsonError {
                error: "File exists: x",
                errno: 17
            }),
            "{\"error\":\"File exists: x\",\"errno\":17}\n"
        );
    }

    #[test]
    fn batch_escape_round_trips() {
        for v in [
            "/a/",
            "",
            "a b",
            "#x",
            "it's",
            "say \"hi\"",
            "back\\slash",
            "*.example.com",
            "\t",
        ] {
            let line = format!("rule add host {}", handoff::batch_escape(v));
            assert_eq!(batch_words(&line).unwrap()[3], v, "{line}");
        }
        assert!(batch_words("host a\\").is_err());
    }

    #[test]
    fn save_prints_commands_that_plan_back() {
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
        let config = Config {
            limits: Limits::default(),
            nodes: vec![
                Node {
                    id: 1,
                    addr: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 129))),
                    port: Some(7000),
                    weight: Some(1),
                    local: true,
                    state: None,
                },
                Node {
                    id: 2,
                    addr: Some(IpAddr::V6("2001:db8:2::2".parse::<Ipv6Addr>().unwrap())),
                    port: Some(7000),
                    weight: Some(5),
                    local: false,
                    state: Some("up".into()),
                },
            ],
            services: vec![Service {
                addr: IpAddr::V6("2001:db8:1::10".parse::<Ipv6Addr>().unwrap()),
                port: 80,
            }],
            rules: vec![Rule {
                prio: 10,
                method: Some("GET".into()),
                host: Some("*.example.com".into()),
                prefix: Some("/a b#'\"".into()),
                suffix: None,
                exact: None,
                policy: "round-robin".into(),
                targets: vec![2, 3],
                hits: 7,
            }],
        };
        let text = config.to_commands();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "node add 1 addr 198.51.100.129 port 7000 weight 1 local",
                "node add 2 addr 2001:db8:2::2 port 7000 weight 5",
                "service add [2001:db8:1::10]:80",
                "rule add prio 10 method GET host *.example.com prefix /a\\ b\\#\\'\\\" policy rr to 2,3",
            ]
        );
        for line in text.lines() {
            let argv = std::iter::once("handoffctl".to_string()).chain(batch_words(line).unwrap());
            let cli = Cli::try_parse_from(argv).unwrap();
            let action = plan(cli.object.as_ref().unwrap()).unwrap();
            if let Action::RuleAdd(r) = action {
                assert!(matches!(r.path, Some(handoff::PathSpec::Prefix(p)) if p == "/a b#'\""));
            }
        }
    }
}
