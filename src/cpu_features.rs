//! The x86 instruction-set extensions the CPU fast paths compile for (POPCNT, AVX2,
//! BMI1/2), checked once at run time: the default x86-64 target has none of them, and
//! a build for the native CPU would not run on another machine.

/// True when the CPU has every feature of the fast paths, checked once.
pub fn fast_path_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static FAST: OnceLock<bool> = OnceLock::new();
        *FAST.get_or_init(|| {
            std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
