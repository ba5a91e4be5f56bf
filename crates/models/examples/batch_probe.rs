use std::time::Instant;
use tarjoman_models::causal::CausalLm;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let mut lm = CausalLm::load(std::path::Path::new(&path), None).unwrap();
    for slot in 0..8 {
        let p: Vec<u32> = (1000 + slot as u32..1100 + slot as u32).collect();
        lm.prefill_in(slot, &p).unwrap();
    }
    for b in [1usize, 2, 4, 8] {
        let t = Instant::now();
        for i in 0..10 {
            let rows: Vec<(usize, u32)> = (0..b).map(|s| (s, 500 + i)).collect();
            lm.step_many(&rows).unwrap();
        }
        println!("b={b} step {:.1} ms", t.elapsed().as_secs_f64() * 100.0);
    }
}
