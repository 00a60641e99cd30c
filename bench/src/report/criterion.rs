//! The figures of this run's criterion groups (`parse`, `sink`, `batch`), read from criterion's
//! own output directories.

use std::path::{Path, PathBuf};

use super::Table;

/// One criterion benchmark's throughput, if its files are there and from this session.
fn row(group: &str, dir: &Path) -> Option<Vec<String>> {
    let new = dir.join("new");
    // Only figures from this session's run: a stale directory would lie.
    let age = std::fs::metadata(new.join("estimates.json"))
        .ok()?
        .modified()
        .ok()?
        .elapsed()
        .ok()?;
    if age > std::time::Duration::from_secs(3600) {
        return None;
    }
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(new.join(file)).ok()?).ok()
    };
    let estimates = read("estimates.json")?;
    let benchmark = read("benchmark.json")?;
    let mean_ns = estimates["mean"]["point_estimate"].as_f64()?;
    let elements = benchmark["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    Some(vec![
        group.to_owned(),
        benchmark["function_id"].as_str().unwrap_or("?").to_owned(),
        format!("{:.3}", elements / mean_ns * 1e3),
    ])
}

/// The throughput table of the groups criterion wrote under `<target>/criterion/`
/// (one directory per benchmark: `<group>/<id>/new/`), if any.
pub(crate) fn table(target: &Path) -> Option<Table> {
    let mut rows = Vec::new();
    for group in ["parse", "sink", "batch"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(target.join("criterion").join(group))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        dirs.sort();
        rows.extend(dirs.iter().filter_map(|dir| row(group, dir)));
    }
    (!rows.is_empty()).then(|| Table {
        headers: ["group", "benchmark", "M elements/s"]
            .map(String::from)
            .to_vec(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flattened_benchmark_directories() {
        let target = std::env::temp_dir().join(format!("criterion-table-{}", std::process::id()));
        let new = target.join("criterion/parse/httparse_small_post/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"mean":{"point_estimate":200.0}}"#,
        )
        .unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            r#"{"function_id":"httparse/small_post","throughput":{"Elements":2}}"#,
        )
        .unwrap();
        std::fs::create_dir_all(target.join("criterion/parse/broken/new")).unwrap();
        let table = table(&target).expect("one readable benchmark");
        assert_eq!(
            table.rows,
            vec![vec![
                "parse".to_owned(),
                "httparse/small_post".to_owned(),
                "10.000".to_owned()
            ]]
        );
        let _ = std::fs::remove_dir_all(target);
    }
}
