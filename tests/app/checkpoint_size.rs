//! Checkpoint size and write/read time by network size, v2 (binary arrays) against the
//! v1 JSON body it replaced: every size reads back equal and v2 is the smaller. CI runs
//! N 256 and 1024; README's table adds 4096:
//! `SATR_CHECKPOINT_SIZES=256,1024,4096 cargo test --release --test app checkpoint_size -- --nocapture`.

use std::time::Instant;

use satr::checkpoint::Checkpoint;
use satr::config::Config;

#[test]
fn checkpoint_size_and_time_by_network_size() {
    let sizes: Vec<usize> = std::env::var("SATR_CHECKPOINT_SIZES")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![256, 1024]);
    let tmp = tempfile::tempdir().unwrap();
    println!("| N | coordinates | v2 size | v2 write | v2 read | v1 (JSON) size | v1 write |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let cfg = Config::from_toml_with_overrides("", &[format!("network.neurons={n}")]).unwrap();
        let dim = cfg.shape().unwrap().layout().len();
        let mut state = satr::optimizer::Optimizer::new(cfg.optimizer.clone(), dim).state;
        // Values with full mantissas, as after training (JSON writes up to 17 digits).
        let x = |i: usize| 0.001 + 0.998 * ((i as f64 * 0.618_033_988_749_895) % 1.0);
        state.m = (0..dim).map(|i| x(i) - 0.5).collect();
        state.v = (0..dim).map(|i| x(i + 1) * 1e-3).collect();
        let ck = Checkpoint {
            generation: 10,
            config: cfg.clone(),
            p: (0..dim).map(x).collect(),
            optimizer: state,
            obs_stats: satr::evaluation::ObsStats::new(4),
            env_steps: 1,
            wall_s: 1.0,
        };
        let path = tmp.path().join(format!("n{n}.ckpt"));
        let t = Instant::now();
        ck.save(&path).unwrap();
        let w2 = t.elapsed().as_secs_f64();
        let size2 = std::fs::metadata(&path).unwrap().len();
        let t = Instant::now();
        let back = Checkpoint::load(&path).unwrap();
        let r2 = t.elapsed().as_secs_f64();
        assert_eq!(back, ck);
        let t = Instant::now();
        let json = serde_json::to_vec(&ck).unwrap();
        let p1 = tmp.path().join(format!("n{n}.json"));
        std::fs::write(&p1, &json).unwrap();
        let w1 = t.elapsed().as_secs_f64();
        assert!(
            size2 < json.len() as u64,
            "v2 {size2} bytes, JSON {}",
            json.len()
        );
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
        println!(
            "| {n} | {dim} | {} | {w2:.3} s | {r2:.3} s | {} | {w1:.3} s |",
            mb(size2),
            mb(json.len() as u64)
        );
    }
}
