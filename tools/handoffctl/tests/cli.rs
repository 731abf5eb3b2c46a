// SPDX-License-Identifier: GPL-2.0

//! Runs the handoffctl binary to check what users and scripts rely on: exit
//! codes, error texts and JSON errors for invalid command lines.
//!
//! These tests need no tcp_handoff module: usage errors are detected before
//! any netlink traffic.  The one test that talks to the kernel uses the
//! always-present nlctrl family through `raw --family` and is skipped where
//! netlink sockets are unavailable.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handoffctl"))
        .args(args)
        .output()
        .expect("cannot run handoffctl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn help_and_version_succeed() {
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
    assert_eq!(run(&["node", "add", "--help"]).status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["node", "add", "2", "addr", "999.1.1.1", "port", "7000"][..],
        &["node", "add", "2", "addr", "198.51.100.2", "port", "0"],
        &["node", "add", "2", "addr", "198.51.100.2", "port", "70000"],
        &["node", "add", "2", "addr", "198.51.100.2"],
        &["node", "add", "0", "addr", "198.51.100.2", "port", "7000"],
        &[
            "node",
            "add",
            "2",
            "addr",
            "198.51.100.2",
            "port",
            "7000",
            "weight",
            "65536",
        ],
        &["node", "del", "abc"],
        &["node", "show", "-1"],
        &["service", "add", "198.51.100.10"],
        &["service", "add", "198.51.100.10:0"],
        &["service", "del", "2001:db8::1:80"],
        &["raw", "nope"],
        &["raw", "1", "99:0"],
        &["rule", "add", "prio", "10"],
        &["rule", "add", "policy", "rr"],
        &["rule", "add", "prio", "10", "policy", "random"],
        &[
            "rule", "add", "prio", "10", "prefix", "/a", "suffix", ".b", "policy", "local",
        ],
        &["rule", "add", "prio", "10", "policy", "rr", "to", "2,,3"],
        &["rule", "del"],
        &["rule", "del", "prio", "-1"],
        &["rule", "frob"],
        &["limits", "set"],
        &["limits", "set", "linger", "5"],
        &["limits", "set", "max-conns", "2000000"],
        &["limits", "set", "timeout", "100"],
        &["node"],
        &["frob"],
        &[],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{:?}: {}", args, stderr(&o));
        assert!(!stderr(&o).is_empty(), "{:?}", args);
    }
}

#[test]
fn usage_error_messages() {
    let o = run(&["node", "add", "2", "addr", "999.1.1.1", "port", "7000"]);
    assert_eq!(
        stderr(&o),
        "handoffctl: invalid address \"999.1.1.1\": expected an IPv4 or IPv6 address literal\n"
    );
    assert!(stdout(&o).is_empty());
    let o = run(&["service", "add", "198.51.100.10:70000"]);
    assert!(
        stderr(&o).contains("invalid port \"70000\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn rule_and_limits_usage_messages() {
    let o = run(&[
        "rule", "add", "prio", "1", "exact", "/", "prefix", "/", "policy", "local",
    ]);
    assert_eq!(
        stderr(&o),
        "handoffctl: rule add: give at most one of prefix, suffix and exact\n"
    );
    let o = run(&["limits", "set", "head-timeout", "0"]);
    assert!(
        stderr(&o).contains("invalid head-timeout \"0\": must be between 10 and 600000"),
        "{}",
        stderr(&o)
    );
    let o = run(&["-j", "rule", "add", "prio", "1", "policy", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["error"].as_str().unwrap().contains("invalid policy"));
}

#[test]
fn json_usage_errors_on_stdout() {
    let o = run(&[
        "-j",
        "node",
        "add",
        "2",
        "addr",
        "198.51.100.2",
        "port",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errno"], 22);
    assert!(v["error"].as_str().unwrap().contains("port"));

    let o = run(&["-j", "node", "frob"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errno"], 22);
}

#[test]
fn missing_netns_is_a_runtime_error() {
    let o = run(&["-n", "handoffctl-test-no-such-ns", "stats", "show"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("handoffctl-test-no-such-ns"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn raw_against_nlctrl() {
    let o = run(&["raw", "--family", "nlctrl", "3", "2:6e6c6374726c00"]);
    if stderr(&o).contains("cannot open a generic netlink socket") {
        eprintln!("skipping: no netlink here");
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // CTRL_ATTR_FAMILY_ID (1) is GENL_ID_CTRL, 0x10, as a host-endian u16.
    let id = format!(
        " 1:{:02x}{:02x}",
        0x10u16.to_ne_bytes()[0],
        0x10u16.to_ne_bytes()[1]
    );
    assert!(stdout(&o).contains(&id), "{}", stdout(&o));

    // An unknown family name: ENOENT from the kernel, exit 1.
    let o = run(&["-j", "raw", "--family", "nlctrl", "3", "2:41414100"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errno"], 2);
    assert!(stderr(&o).starts_with("handoffctl: No such file or directory"));
}

#[test]
fn completion_and_man_page_come_from_the_definition() {
    let bash = run(&["completion", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let text = stdout(&bash);
    assert!(text.contains("complete -F _handoffctl"), "{text}");
    for word in [
        "node", "service", "rule", "limits", "stats", "save", "restore",
    ] {
        assert!(text.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish"] {
        let o = run(&["completion", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        assert!(stdout(&o).contains("handoffctl"), "{shell}");
    }
    assert_eq!(run(&["completion", "tcsh"]).status.code(), Some(2));

    let man = run(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let page = stdout(&man);
    // Section 8, like ip(8) and ipvsadm(8).
    assert!(page.contains(".TH handoffctl 8"), "{page}");
    for word in ["node", "restore", "netns", "batch"] {
        assert!(page.contains(word), "man page lacks {word}");
    }
}
