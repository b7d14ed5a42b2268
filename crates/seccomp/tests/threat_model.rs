//! `docs/threat-model.md` lists, per kind of thread, exactly the system
//! calls the policy allows.

use wasc_seccomp::policy::{Allow, COMMON, FUNCTION, NETWORK, TICKER, VCPU, WORKER};

/// The backquoted names in the first column of the table under `heading`.
fn documented(doc: &str, heading: &str) -> Vec<String> {
    let section = doc
        .split("\n### ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in the threat model"));
    let mut names: Vec<String> = section
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn policy(allowed: &[Allow]) -> Vec<String> {
    let mut names: Vec<String> = allowed
        .iter()
        .map(|a| a.name.trim_start_matches("SYS_").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_threat_model_lists_exactly_the_allowed_calls() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/threat-model.md"
    ))
    .expect("threat model");
    assert_eq!(documented(&doc, "All threads"), policy(COMMON));
    assert_eq!(documented(&doc, "Function thread"), policy(FUNCTION));
    assert_eq!(documented(&doc, "vCPU thread"), policy(VCPU));
    assert_eq!(documented(&doc, "Epoch ticker"), policy(TICKER));
    assert_eq!(documented(&doc, "Worker thread"), policy(WORKER));
    assert_eq!(documented(&doc, "Network thread"), policy(NETWORK));
}
