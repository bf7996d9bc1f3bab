//! With the `mujoco` feature, records MuJoCo's library folder as a run-time search path
//! of every binary (tests included), so they run without LD_LIBRARY_PATH.
fn main() {
    println!("cargo::rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_some() {
        if let Some(dir) = std::env::var_os("MUJOCO_DYNAMIC_LINK_DIR") {
            println!("cargo::rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
        }
    }
}
