//! Adapter selection through `SATR_ADAPTER`. The test sets the process environment,
//! which the other GPU tests of this binary must not see (nor may another thread read
//! the environment while it is written), so it re-runs this test binary on this test
//! alone, in a process of its own, and that child does the work.

use std::process::Command;

use satr::evaluation::EngineError;
use satr::gpu::{list_adapters, GpuContext};

use crate::common::{require_gpu, test_name};

/// The variable that makes this test binary, re-run by the test below, the process
/// under test.
const IN_CHILD: &str = "SATR_TEST_ADAPTER_IN_CHILD";

#[test]
fn satr_adapter_selects_by_index_and_name_and_rejects_unknown() {
    if std::env::var_os(IN_CHILD).is_none() {
        let test = test_name(
            module_path!(),
            "satr_adapter_selects_by_index_and_name_and_rejects_unknown",
        );
        let o = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &test, "--test-threads=1", "--nocapture"])
            .env(IN_CHILD, "1")
            .output()
            .unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert!(
            o.status.success(),
            "child failed: {}\n{out}\n{err}",
            o.status
        );
        assert!(
            out.contains("1 passed"),
            "the child ran no test: {out}\n{err}"
        );
        return;
    }
    let adapters = list_adapters();
    if adapters.is_empty() {
        assert!(!require_gpu(), "SATR_REQUIRE_GPU=1 but no adapter");
        eprintln!("skipping: no GPU adapter");
        return;
    }
    let last = adapters.len() - 1;
    std::env::set_var("SATR_ADAPTER", last.to_string());
    let ctx = GpuContext::new().unwrap().expect("adapter by index");
    assert_eq!(ctx.adapter_info.name, adapters[last].name);

    let name = &adapters[0].name;
    let needle: String = name.chars().take(6).collect::<String>().to_uppercase();
    std::env::set_var("SATR_ADAPTER", &needle);
    let ctx = GpuContext::new().unwrap().expect("adapter by name");
    assert!(ctx
        .adapter_info
        .name
        .to_lowercase()
        .contains(&needle.to_lowercase()));

    for bad in ["no-such-adapter-name", "999"] {
        std::env::set_var("SATR_ADAPTER", bad);
        match GpuContext::new() {
            Err(EngineError::Gpu(msg)) => assert!(msg.contains("SATR_ADAPTER"), "{msg}"),
            other => panic!(
                "expected an error for {bad}, got {:?}",
                other.map(|c| c.is_some())
            ),
        }
    }
    std::env::remove_var("SATR_ADAPTER");
}
