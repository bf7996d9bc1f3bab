//! Adapter selection through `SATR_ADAPTER` (a separate test binary: it sets the
//! process environment, which the other GPU tests must not see).

use satr::evaluation::EngineError;
use satr::gpu::{list_adapters, GpuContext};

fn require_gpu() -> bool {
    std::env::var("SATR_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

#[test]
fn satr_adapter_selects_by_index_and_name_and_rejects_unknown() {
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
