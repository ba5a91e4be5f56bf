//! Tests of the decoding loops on a toy model whose logits are a fixed
//! function of each slot's history.

use candle_core::Tensor;
use tarjoman_models::lm::Lm;

use super::row::{repeated_ngram_completions, Row};
use super::*;
use crate::Result;
use candle_core::Device;

/// A model whose next-token logits are a fixed function of its slot's
/// history (`model`), so any mix-up of slots, positions or rows changes
/// the output. Token 0 ends a sequence.
struct Toy {
    histories: Vec<Vec<u32>>,
    slots: usize,
    widest_step: usize,
    model: fn(&[u32]) -> Vec<f32>,
}

const VOCAB: usize = 40;

/// All weight on one token: decoding it has clear choices.
fn peaked(history: &[u32]) -> Vec<f32> {
    let h: u64 = history
        .iter()
        .enumerate()
        .map(|(i, &t)| (i as u64 + 3) * (t as u64 + 1))
        .sum();
    let mut v = vec![0f32; VOCAB];
    let next = if h % 9 == 4 { 0 } else { h % VOCAB as u64 };
    v[next as usize] = 1.0;
    v
}

const GRADED_VOCAB: u32 = 5;

/// Graded scores over a small vocabulary, for beam search.
fn graded(history: &[u32]) -> Vec<f32> {
    let h: u64 = history
        .iter()
        .enumerate()
        .map(|(i, &t)| (i as u64 * 7 + 5) * (t as u64 + 3))
        .sum();
    (0..GRADED_VOCAB as u64)
        .map(|t| ((h * 31 + t * 17) % 13) as f32 * 0.41)
        .collect()
}

fn graded_logprob(history: &[u32], token: u32) -> f64 {
    let l = graded(history);
    let max = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = l.iter().map(|v| ((v - max) as f64).exp()).sum();
    (l[token as usize] - max) as f64 - sum.ln()
}

impl Toy {
    fn new(slots: usize, model: fn(&[u32]) -> Vec<f32>) -> Self {
        Self {
            histories: Vec::new(),
            slots,
            widest_step: 0,
            model,
        }
    }

    fn logits(&self, history: &[u32]) -> Tensor {
        Tensor::new((self.model)(history), &Device::Cpu).unwrap()
    }

    fn slot(&mut self, slot: usize) -> &mut Vec<u32> {
        assert!(slot < self.slots, "slot {slot} beyond {}", self.slots);
        if self.histories.len() <= slot {
            self.histories.resize(slot + 1, Vec::new());
        }
        &mut self.histories[slot]
    }
}

impl Lm for Toy {
    fn max_slots(&self) -> usize {
        self.slots
    }
    fn room(&self, input_len: usize) -> usize {
        64usize.saturating_sub(input_len)
    }
    fn eos_ids(&self) -> &[u32] {
        &[0]
    }
    fn prefill_in(
        &mut self,
        slot: usize,
        prompt: &[u32],
    ) -> tarjoman_models::Result<(Tensor, usize)> {
        *self.slot(slot) = prompt.to_vec();
        Ok((self.logits(prompt), prompt.len()))
    }
    fn step(&mut self, slot: usize, token: u32) -> tarjoman_models::Result<Tensor> {
        self.slot(slot).push(token);
        Ok(self.logits(&self.histories[slot]))
    }
    fn step_many(&mut self, rows: &[(usize, u32)]) -> tarjoman_models::Result<Vec<Tensor>> {
        self.widest_step = self.widest_step.max(rows.len());
        Ok(rows
            .iter()
            .map(|&(slot, t)| {
                self.slot(slot).push(t);
                self.logits(&self.histories[slot])
            })
            .collect())
    }
    fn copy_slot(&mut self, from: usize, to: usize) -> tarjoman_models::Result<()> {
        *self.slot(to) = self.slot(from).clone();
        Ok(())
    }
    fn decode(&self, ids: &[u32]) -> tarjoman_models::Result<String> {
        Ok(ids.iter().map(|i| format!("t{i} ")).collect())
    }
}

/// How beam search scores a finished output of `prompt`.
fn finished_score(prompt: &[u32], g: &Generation, alpha: f64) -> f64 {
    let mut history = prompt.to_vec();
    let mut score = 0.0;
    let eos = (g.stop == StopReason::Eos).then_some(&0);
    for &t in g.tokens.iter().chain(eos) {
        score += graded_logprob(&history, t);
        history.push(t);
    }
    score / ((history.len() - prompt.len()).max(1) as f64).powf(alpha)
}

/// The best score by exhaustive search: every output of up to `budget`
/// tokens, ended by token 0 or by the budget.
fn exhaustive_best(prompt: &[u32], budget: usize, alpha: f64) -> f64 {
    let mut best = f64::NEG_INFINITY;
    let mut frontier = vec![(Vec::<u32>::new(), 0.0f64)];
    for len in 0..=budget {
        let mut next = Vec::new();
        for (seq, score) in frontier {
            let history: Vec<u32> = prompt.iter().chain(&seq).copied().collect();
            let ended = if len < budget {
                let s = score + graded_logprob(&history, 0);
                s / ((len + 1) as f64).powf(alpha)
            } else {
                score / (len.max(1) as f64).powf(alpha)
            };
            best = best.max(ended);
            if len < budget {
                for t in 1..GRADED_VOCAB {
                    let mut longer = seq.clone();
                    longer.push(t);
                    next.push((longer, score + graded_logprob(&history, t)));
                }
            }
        }
        frontier = next;
    }
    best
}

#[test]
fn a_beam_wide_enough_finds_the_exhaustive_best() {
    // With more beams than sequences, beam search keeps everything, so
    // it must return an output as good as the best one there is. The
    // output is re-scored here from scratch: a slot mix-up would have
    // scored some hypothesis with another's history and picked wrong.
    for (prompt, alpha) in [(vec![3, 1], 1.0), (vec![2, 4, 4], 0.0), (vec![1], 1.5)] {
        let mut lm = Toy::new(usize::MAX, graded);
        let job = Job {
            id: 0,
            prompt: prompt.clone(),
            config: GenerationConfig::default(),
            cap: Some(3),
            stop: Vec::new(),
        };
        let g = beam_search(&mut lm, &job, 100, alpha).unwrap();
        let best = exhaustive_best(&prompt, 3, alpha);
        let got = finished_score(&prompt, &g, alpha);
        assert!(
            (got - best).abs() < 1e-6,
            "prompt {prompt:?}, alpha {alpha}: {got} vs {best}"
        );
        // Forks happened: more than one slot was used.
        assert!(lm.histories.len() > 4, "{}", lm.histories.len());
    }
}

#[test]
fn beam_searches_run_side_by_side_give_what_each_gives_alone() {
    let jobs: Vec<Job> = (0..6u32)
        .map(|i| Job {
            id: i as usize,
            prompt: vec![1 + i % 4, 2 + i],
            config: GenerationConfig::default(),
            cap: Some(2 + i as usize % 4),
            stop: Vec::new(),
        })
        .collect();
    let alone: Vec<Generation> = jobs
        .iter()
        .map(|job| {
            let mut lm = Toy::new(usize::MAX, graded);
            beam_search(&mut lm, job, 3, 1.0).unwrap()
        })
        .collect();
    // 8 rows of 3 beams: three searches at a time, in slots 0-8.
    struct Queue {
        pending: Vec<Job>,
        results: Vec<(usize, Generation)>,
    }
    impl JobSource for Queue {
        type Error = crate::Error;
        fn next_job(&mut self) -> Result<Option<Job>> {
            Ok((!self.pending.is_empty()).then(|| self.pending.remove(0)))
        }
        fn finished(&mut self, id: usize, g: Generation) -> Result<()> {
            self.results.push((id, g));
            Ok(())
        }
    }
    let mut queue = Queue {
        pending: jobs.clone(),
        results: Vec::new(),
    };
    let mut lm = Toy::new(usize::MAX, graded);
    generate_beam(&mut lm, 8, 3, 1.0, &mut queue).unwrap();
    assert!(lm.histories.len() > 6, "slots of several searches in use");
    queue.results.sort_by_key(|r| r.0);
    assert_eq!(queue.results.len(), jobs.len());
    for ((id, together), alone) in queue.results.iter().zip(&alone) {
        assert_eq!(
            (&together.tokens, together.stop),
            (&alone.tokens, alone.stop),
            "job {id}"
        );
    }
}

#[test]
fn one_beam_is_greedy_on_a_model_with_clear_choices() {
    // The Toy model puts all weight on one token: beam search of width
    // 1 must follow it exactly as greedy decoding does.
    for i in 0..7u32 {
        let prompt = vec![5 + i, 9, i * i];
        let job = job(0, prompt.clone(), 4 + 3 * i as usize);
        let mut lm = Toy::new(4, peaked);
        let mut greedy = Jobs {
            pending: vec![job.clone()],
            results: Vec::new(),
        };
        generate_many(&mut lm, 1, &mut greedy).unwrap();
        let g = beam_search(&mut lm, &job, 1, 1.0).unwrap();
        let (_, tokens, text, stop) = &greedy.results[0];
        assert_eq!(
            (&g.tokens, &g.text, g.stop),
            (tokens, text, *stop),
            "job {i}"
        );
    }
}

/// Jobs 0..n; each finished first job queues a follow-up (id + 100)
/// whose prompt is the first job's output, like a retry.
struct Jobs {
    pending: Vec<Job>,
    results: Vec<Outcome>,
}

impl JobSource for Jobs {
    type Error = crate::Error;
    fn next_job(&mut self) -> Result<Option<Job>> {
        Ok((!self.pending.is_empty()).then(|| self.pending.remove(0)))
    }
    fn finished(&mut self, id: usize, g: Generation) -> Result<()> {
        if id < 100 {
            let mut prompt = vec![1, 2];
            prompt.extend(&g.tokens);
            self.pending.push(job(id + 100, prompt, 6));
        }
        self.results.push((id, g.tokens, g.text, g.stop));
        Ok(())
    }
}

fn job(id: usize, prompt: Vec<u32>, cap: usize) -> Job {
    Job {
        id,
        prompt,
        config: GenerationConfig::default(),
        cap: Some(cap),
        stop: vec!["t13 ".to_string()],
    }
}

/// A job's id, tokens, text and stop reason.
type Outcome = (usize, Vec<u32>, String, StopReason);

fn run(slots: usize) -> (Vec<Outcome>, usize) {
    let mut lm = Toy::new(slots, peaked);
    let mut jobs = Jobs {
        pending: (0..7u32)
            .map(|i| job(i as usize, vec![5 + i, 9, i * i], 4 + 3 * i as usize))
            .collect(),
        results: Vec::new(),
    };
    generate_many(&mut lm, 4, &mut jobs).unwrap();
    jobs.results.sort_by_key(|r| r.0);
    (jobs.results, lm.widest_step)
}

#[test]
fn no_repeat_ngram_bans_exactly_the_completions_of_seen_ngrams() {
    // 1-grams: everything generated so far.
    assert_eq!(repeated_ngram_completions(&[4, 5, 4], 1), vec![4, 5, 4]);
    // 2-grams: what followed earlier occurrences of the last token.
    assert_eq!(repeated_ngram_completions(&[7, 8, 7, 9, 7], 2), vec![8, 9]);
    // 3-grams ending in "7 9" never seen before: nothing banned.
    assert!(repeated_ngram_completions(&[7, 8, 7, 9], 3).is_empty());
    assert_eq!(repeated_ngram_completions(&[1, 2, 3, 1, 2], 3), vec![3]);
    assert!(repeated_ngram_completions(&[1, 2], 3).is_empty());
    assert!(repeated_ngram_completions(&[1, 1, 1], 0).is_empty());
}

#[test]
fn no_repeat_ngram_stops_a_loop_the_model_would_run() {
    // A model that always predicts "the token before last": 1 2 1 2 ...
    let mut row = Row::new(
        0,
        100,
        &GenerationConfig {
            no_repeat_ngram: 3,
            ..GenerationConfig::default()
        },
        Some(10),
        &[],
    );
    let mut out = vec![1u32, 2];
    row.tokens = out.clone();
    for _ in 0..4 {
        let mut v = vec![0f32; VOCAB];
        v[out[out.len() - 2] as usize] = 2.0;
        v[30] = 1.0;
        let logits = Tensor::new(v, &Device::Cpu).unwrap();
        match row
            .advance(logits, &[0], &[], |_| Ok(String::new()))
            .unwrap()
        {
            Some(t) => out.push(t),
            None => break,
        }
    }
    // "1 2 1" and "2 1 2" are new; a third 1 would repeat "1 2 1", so
    // the runner-up comes instead, and the loop is broken.
    assert_eq!(out, vec![1, 2, 1, 2, 30, 2]);
}

/// Jobs 0..4 with long caps; when job 0 finishes, jobs 1 and 2 are no
/// longer wanted, and job 4 waits for a free slot.
struct Settling {
    pending: Vec<Job>,
    finished: Vec<usize>,
}

impl Settling {
    fn new() -> Self {
        Settling {
            // Job 0 stops at its cap of 2 tokens, the others run longer.
            pending: (0..5)
                .map(|i| job(i, vec![5 + i as u32, 9], if i == 0 { 2 } else { 40 }))
                .collect(),
            finished: Vec::new(),
        }
    }
}

impl JobSource for Settling {
    type Error = crate::Error;
    fn next_job(&mut self) -> Result<Option<Job>> {
        Ok((!self.pending.is_empty()).then(|| self.pending.remove(0)))
    }
    fn wanted(&self, id: usize) -> bool {
        !(self.finished.contains(&0) && (id == 1 || id == 2))
    }
    fn finished(&mut self, id: usize, _: Generation) -> Result<()> {
        self.finished.push(id);
        Ok(())
    }
}

#[test]
fn beam_searches_no_longer_wanted_stop_and_free_their_slots() {
    let mut lm = Toy::new(8, graded);
    let mut jobs = Settling::new();
    generate_beam(&mut lm, 4, 2, 1.0, &mut jobs).unwrap();
    jobs.finished.sort();
    assert_eq!(jobs.finished, vec![0, 3, 4]);
}

#[test]
fn jobs_no_longer_wanted_stop_and_free_their_slot() {
    let mut lm = Toy::new(4, peaked);
    let mut jobs = Settling::new();
    generate_many(&mut lm, 4, &mut jobs).unwrap();
    jobs.finished.sort();
    // 1 and 2 were stopped without a result; 3 and 4 finished.
    assert_eq!(jobs.finished, vec![0, 3, 4]);
    // Never more rows than slots, and the freed slots were reused.
    assert!(lm.widest_step <= 4);
}

#[test]
fn batched_jobs_give_what_one_at_a_time_gives() {
    let (alone, widest_alone) = run(1);
    let (batched, widest) = run(4);
    assert_eq!(widest_alone, 1);
    assert_eq!(widest, 4, "four slots were never decoded together");
    assert_eq!(alone.len(), 14, "7 jobs and their 7 follow-ups");
    assert_eq!(batched, alone);
    // The toy's outputs exercise every way a generation ends.
    let stops: Vec<StopReason> = alone.iter().map(|r| r.3).collect();
    assert!(stops.contains(&StopReason::LengthCap), "{stops:?}");
    assert!(
        stops.contains(&StopReason::Eos) || stops.contains(&StopReason::StopString),
        "{stops:?}"
    );
}
