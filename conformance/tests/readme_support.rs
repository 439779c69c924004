//! The README's engine matrix says what `Runtime::SUPPORT` declares: a
//! backend lacking a feature says `Unsupported` (or **approximated**) in that
//! feature's row, and a backend with it says neither.

use anywasm::{BackendKind, Feature};

/// The text that names each feature's row in the matrix.
fn row_key(feature: Feature) -> &'static str {
    match feature {
        Feature::ExactStackLimit => "`Config::max_stack_bytes`",
        Feature::InstancePool => "`Config::instance_pool`",
        Feature::Artifacts => "`Runtime::serialize_module`",
        Feature::AsyncSuspend => "`Store::call_async`",
        other => panic!("no README row known for {other}: add it to the engine matrix and here"),
    }
}

fn cells(line: &str) -> Vec<&str> {
    let line = line.trim().trim_start_matches('|').trim_end_matches('|');
    line.split(" | ").map(str::trim).collect()
}

#[test]
fn engine_matrix_matches_declared_support() {
    let readme = include_str!("../../README.md");
    let matrix = readme
        .split("## Engine matrix")
        .nth(1)
        .expect("README has an engine matrix")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<Vec<&str>> = matrix
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(cells)
        .collect();
    let header = &rows[0];
    for &kind in anywasm::compiled_backends() {
        let column = header
            .iter()
            .position(|h| *h == kind.name())
            .unwrap_or_else(|| panic!("no `{kind}` column in {header:?}"));
        let support = anywasm::support(kind).unwrap();
        for &feature in Feature::ALL {
            let key = row_key(feature);
            let row = rows
                .iter()
                .find(|r| r[0].contains(key))
                .unwrap_or_else(|| panic!("no engine-matrix row mentions {key}"));
            let cell = row[column];
            let says_gap = cell.contains("Unsupported") || cell.contains("approximated");
            match support.lacks(feature) {
                Some(why) => assert!(
                    says_gap,
                    "{kind} declares it lacks {feature} ({why}), the README says: {cell}"
                ),
                None => assert!(
                    !says_gap,
                    "{kind} supports {feature}, the README says: {cell}"
                ),
            }
        }
    }
    // Every engine anywasm knows has a column, compiled in or not.
    for kind in BackendKind::ALL {
        assert!(header.contains(&kind.name()), "no `{kind}` column");
    }
}
