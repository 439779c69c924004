//! Dependency order: a plugin loads after every plugin it depends on.
//! Missing dependencies, version conflicts and cycles are errors naming the
//! plugins involved; a plugin that fails takes its dependents with it
//! (checked by the caller as it loads in order).

use std::collections::BTreeMap;
use std::path::PathBuf;

use semver::Version;

use crate::Manifest;
use crate::candidate::Candidate;
use crate::error::{PluginError, Result};

fn dep_error(plugin: &str, message: String) -> PluginError {
    PluginError::Dependency {
        plugin: plugin.into(),
        message,
    }
}

/// Check `manifest`'s dependencies against the loaded plugins.
pub(crate) fn check_loaded(manifest: &Manifest, loaded: &BTreeMap<String, Version>) -> Result<()> {
    for (dep, req) in &manifest.dependencies {
        match loaded.get(dep) {
            None => {
                return Err(dep_error(
                    &manifest.name,
                    format!("missing dependency `{dep}` ({req})"),
                ));
            }
            Some(v) if !req.matches(v) => {
                return Err(dep_error(
                    &manifest.name,
                    format!("version conflict: needs `{dep}` {req}, but `{dep}` is {v}"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Visiting,
    Done,
    Failed,
}

/// Order `candidates` so dependencies come first. Returns the loadable ones
/// in order and, per file that cannot load, why. `loaded` holds plugins
/// already running.
pub(crate) fn order(
    candidates: Vec<Candidate>,
    loaded: &BTreeMap<String, Version>,
) -> (Vec<Candidate>, Vec<(PathBuf, PluginError)>) {
    let mut failed = Vec::new();
    let mut by_name: BTreeMap<String, Candidate> = BTreeMap::new();
    for c in candidates {
        let name = c.manifest.name.clone();
        if let Some(first) = by_name.get(&name) {
            failed.push((
                c.path.clone(),
                PluginError::Duplicate {
                    plugin: name,
                    first: first.path.clone(),
                    second: c.path,
                },
            ));
        } else if loaded.contains_key(&name) {
            failed.push((
                c.path.clone(),
                PluginError::Duplicate {
                    plugin: name,
                    first: PathBuf::from("(already loaded)"),
                    second: c.path,
                },
            ));
        } else {
            by_name.insert(name, c);
        }
    }
    let mut marks: BTreeMap<String, Mark> = BTreeMap::new();
    let mut errors: BTreeMap<String, PluginError> = BTreeMap::new();
    let mut sequence: Vec<String> = Vec::new();
    let names: Vec<String> = by_name.keys().cloned().collect();
    for name in &names {
        let mut stack = Vec::new();
        visit(
            name,
            &by_name,
            loaded,
            &mut marks,
            &mut errors,
            &mut sequence,
            &mut stack,
        );
    }
    let mut ordered = Vec::new();
    for name in sequence {
        if let Some(c) = by_name.remove(&name) {
            ordered.push(c);
        }
    }
    for (name, c) in by_name {
        let e = errors
            .remove(&name)
            .unwrap_or_else(|| dep_error(&name, "dependencies could not be resolved".into()));
        failed.push((c.path, e));
    }
    (ordered, failed)
}

/// Depth-first visit; returns whether `name` can load.
fn visit(
    name: &str,
    by_name: &BTreeMap<String, Candidate>,
    loaded: &BTreeMap<String, Version>,
    marks: &mut BTreeMap<String, Mark>,
    errors: &mut BTreeMap<String, PluginError>,
    sequence: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> bool {
    match marks.get(name) {
        Some(Mark::Done) => return true,
        Some(Mark::Failed) => return false,
        Some(Mark::Visiting) => {
            // A cycle: everything on the stack from `name` onwards.
            let start = stack.iter().position(|n| n == name).unwrap_or(0);
            let mut cycle: Vec<String> = stack[start..].to_vec();
            cycle.push(name.to_string());
            let path = cycle
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" -> ");
            for n in &stack[start..] {
                errors.insert(n.clone(), dep_error(n, format!("dependency cycle: {path}")));
                marks.insert(n.clone(), Mark::Failed);
            }
            return false;
        }
        None => {}
    }
    let Some(candidate) = by_name.get(name) else {
        return false;
    };
    marks.insert(name.into(), Mark::Visiting);
    stack.push(name.into());
    let mut ok = true;
    for (dep, req) in &candidate.manifest.dependencies {
        let version = if let Some(c) = by_name.get(dep) {
            if !visit(dep, by_name, loaded, marks, errors, sequence, stack) {
                if marks.get(name) == Some(&Mark::Failed) {
                    // `name` is on a cycle; its error is set.
                    ok = false;
                    break;
                }
                let why = match errors.get(dep) {
                    Some(PluginError::Dependency { message, .. })
                        if message.starts_with("dependency cycle") =>
                    {
                        format!("dependency `{dep}` is on a {message}")
                    }
                    _ => format!("dependency `{dep}` cannot load"),
                };
                errors.insert(name.into(), dep_error(name, why));
                ok = false;
                break;
            }
            c.manifest.version.clone()
        } else if let Some(v) = loaded.get(dep) {
            v.clone()
        } else {
            errors.insert(
                name.into(),
                dep_error(name, format!("missing dependency `{dep}` ({req})")),
            );
            ok = false;
            break;
        };
        if !req.matches(&version) {
            errors.insert(
                name.into(),
                dep_error(
                    name,
                    format!("version conflict: needs `{dep}` {req}, but `{dep}` is {version}"),
                ),
            );
            ok = false;
            break;
        }
    }
    stack.pop();
    if ok {
        marks.insert(name.into(), Mark::Done);
        sequence.push(name.into());
    } else {
        marks.insert(name.into(), Mark::Failed);
    }
    ok
}
