//! The one generation loop every pipeline uses: prefill the prompt (or
//! encode the source), then decode token by token until a stop condition,
//! which is reported. It drives any [`Decoder`]: GGUF models
//! (`CausalLm::decoder()`), safetensors decoder-only models and
//! encoder-decoder translation models alike.

use std::time::{Duration, Instant};

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tarjoman_models::causal::CausalLm;
use tarjoman_models::lm::Decoder;

use crate::Result;

/// Decoding settings. The default is greedy decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationConfig {
    /// Hard limit on generated tokens per call.
    pub max_new_tokens: usize,
    /// `None` is greedy decoding; `Some(t)` samples at temperature `t`.
    pub temperature: Option<f64>,
    /// Nucleus sampling threshold, used when sampling.
    pub top_p: Option<f64>,
    /// Seed for sampling, so sampled runs are reproducible.
    pub seed: u64,
    /// Penalty on tokens seen in the last `repeat_last_n` tokens (1.0 = off).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 512,
            temperature: None,
            top_p: None,
            seed: 299_792_458,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence or end-of-turn token.
    Eos,
    /// A stop string of the prompt format appeared in the output.
    StopString,
    /// `max_new_tokens` was reached.
    MaxTokens,
    /// The caller's per-call length cap (e.g. relative to the source) was reached.
    LengthCap,
    /// The model's context window is full.
    ContextFull,
}

/// The result of one generation call.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The generated text, up to (not including) any stop string.
    pub text: String,
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    /// Prompt tokens actually computed: the rest were cached from the
    /// previous call's prompt.
    pub prefilled: usize,
    pub stop: StopReason,
    pub prefill: Duration,
    pub decode: Duration,
}

/// Generates a continuation of `prompt` (for an encoder-decoder model: a
/// translation of the source `prompt`).
///
/// `cap` limits this call's new tokens below `cfg.max_new_tokens` (reported
/// as [`StopReason::LengthCap`]); `stop` strings end the answer and are cut
/// from the text.
pub fn generate(
    lm: &mut dyn Decoder,
    prompt: &[u32],
    cfg: &GenerationConfig,
    cap: Option<usize>,
    stop: &[String],
) -> Result<Generation> {
    let mut row = Row::new(prompt.len(), lm.room(prompt.len()), cfg, cap, stop);
    let suppressed = lm.suppressed_ids().to_vec();
    let start = Instant::now();
    let mut logits = lm.start(prompt)?;
    row.prefilled = lm.prefilled().unwrap_or(prompt.len());
    row.prefill = start.elapsed();
    let start = Instant::now();
    while let Some(next) = row.advance(logits, lm.eos_ids(), &suppressed, |ids| lm.decode(ids))? {
        logits = lm.step(next)?;
    }
    row.decode = start.elapsed();
    Ok(row.finish())
}

/// One generation in progress: the sampler and the stop conditions. Both
/// [`generate`] and [`generate_many`] drive it, one logits vector at a time.
struct Row {
    sampler: LogitsProcessor,
    cfg: GenerationConfig,
    budget: usize,
    room: usize,
    stop: Vec<String>,
    tokens: Vec<u32>,
    text: String,
    reason: Option<StopReason>,
    prompt_tokens: usize,
    prefilled: usize,
    prefill: Duration,
    decode: Duration,
}

impl Row {
    fn new(
        prompt_tokens: usize,
        room: usize,
        cfg: &GenerationConfig,
        cap: Option<usize>,
        stop: &[String],
    ) -> Self {
        let sampling = match cfg.temperature {
            None => Sampling::ArgMax,
            Some(temperature) => match cfg.top_p {
                Some(p) => Sampling::TopP { p, temperature },
                None => Sampling::All { temperature },
            },
        };
        Self {
            sampler: LogitsProcessor::from_sampling(cfg.seed, sampling),
            cfg: cfg.clone(),
            budget: cap.unwrap_or(usize::MAX).min(cfg.max_new_tokens).min(room),
            room,
            stop: stop.to_vec(),
            tokens: Vec::new(),
            text: String::new(),
            reason: None,
            prompt_tokens,
            prefilled: prompt_tokens,
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
        }
    }

    /// Takes the logits after the last token and returns the next token to
    /// feed, or `None` when generation has ended (the reason is recorded).
    fn advance(
        &mut self,
        mut logits: Tensor,
        eos: &[u32],
        suppressed: &[u32],
        decode: impl Fn(&[u32]) -> tarjoman_models::Result<String>,
    ) -> Result<Option<u32>> {
        let cfg = &self.cfg;
        if self.tokens.len() >= self.budget {
            self.reason = Some(if self.tokens.len() >= cfg.max_new_tokens {
                StopReason::MaxTokens
            } else if self.tokens.len() >= self.room {
                StopReason::ContextFull
            } else {
                StopReason::LengthCap
            });
            return Ok(None);
        }
        if cfg.repeat_penalty != 1.0 && !self.tokens.is_empty() {
            let from = self.tokens.len().saturating_sub(cfg.repeat_last_n);
            logits = candle_transformers::utils::apply_repeat_penalty(
                &logits,
                cfg.repeat_penalty,
                &self.tokens[from..],
            )?;
        }
        if !suppressed.is_empty() {
            logits = suppress(&logits, suppressed)?;
        }
        let next = self.sampler.sample(&logits)?;
        if eos.contains(&next) {
            self.reason = Some(StopReason::Eos);
            return Ok(None);
        }
        self.tokens.push(next);
        self.text = decode(&self.tokens)?;
        if let Some(cut) = self
            .stop
            .iter()
            .filter_map(|s| self.text.find(s.as_str()))
            .min()
        {
            self.text.truncate(cut);
            self.reason = Some(StopReason::StopString);
            return Ok(None);
        }
        Ok(Some(next))
    }

    fn finish(self) -> Generation {
        Generation {
            text: self.text,
            tokens: self.tokens,
            prompt_tokens: self.prompt_tokens,
            prefilled: self.prefilled,
            // `advance` always records a reason before it returns `None`.
            stop: self.reason.unwrap_or(StopReason::MaxTokens),
            prefill: self.prefill,
            decode: self.decode,
        }
    }
}

/// What [`generate_many`] needs of a model: sequences in numbered slots,
/// prefilled one at a time and decoded a token per slot in one pass.
pub trait BatchLm {
    /// How many slots can decode together.
    fn max_slots(&self) -> usize;
    fn context_length(&self) -> usize;
    fn eos_ids(&self) -> &[u32];
    /// Runs `prompt` in `slot` (reusing a cached prefix); returns the last
    /// position's logits and how many tokens were computed.
    fn prefill_in(
        &mut self,
        slot: usize,
        prompt: &[u32],
    ) -> tarjoman_models::Result<(Tensor, usize)>;
    /// Appends a token to each listed slot; returns each row's logits.
    fn step_many(&mut self, rows: &[(usize, u32)]) -> tarjoman_models::Result<Vec<Tensor>>;
    fn decode(&self, ids: &[u32]) -> tarjoman_models::Result<String>;
}

impl BatchLm for CausalLm {
    fn max_slots(&self) -> usize {
        CausalLm::max_slots(self)
    }
    fn context_length(&self) -> usize {
        self.info.context_length
    }
    fn eos_ids(&self) -> &[u32] {
        &self.info.eos_ids
    }
    fn prefill_in(
        &mut self,
        slot: usize,
        prompt: &[u32],
    ) -> tarjoman_models::Result<(Tensor, usize)> {
        CausalLm::prefill_in(self, slot, prompt)
    }
    fn step_many(&mut self, rows: &[(usize, u32)]) -> tarjoman_models::Result<Vec<Tensor>> {
        CausalLm::step_many(self, rows)
    }
    fn decode(&self, ids: &[u32]) -> tarjoman_models::Result<String> {
        CausalLm::decode(self, ids)
    }
}

/// One request for [`generate_many`].
#[derive(Debug, Clone)]
pub struct Job {
    /// The caller's handle, passed back with the result.
    pub id: usize,
    pub prompt: Vec<u32>,
    pub config: GenerationConfig,
    pub cap: Option<usize>,
    pub stop: Vec<String>,
}

/// Where [`generate_many`] gets its work and delivers results. `finished`
/// may queue more jobs (a retry) for `next_job` to return.
pub trait JobSource {
    type Error: From<crate::Error>;
    fn next_job(&mut self) -> std::result::Result<Option<Job>, Self::Error>;
    fn finished(
        &mut self,
        id: usize,
        generation: Generation,
    ) -> std::result::Result<(), Self::Error>;
}

/// Runs the jobs of `source` with up to `slots` sequences decoding
/// together (continuous batching): whenever a sequence ends, the next job
/// is prefilled into its slot and joins the following step. Every step
/// decodes one token for each running sequence in one pass through the
/// weights ([`BatchLm::step_many`]), so on a memory-bound CPU four
/// sequences take little longer per step than one.
///
/// Each job's result is what [`generate`] would give for it alone, up to
/// floating-point differences between batched and single-row matrix
/// products (near-ties of the two best logits can then flip a greedy
/// choice). Decoding time is shared equally among the rows of a step.
pub fn generate_many<S: JobSource>(
    lm: &mut dyn BatchLm,
    slots: usize,
    source: &mut S,
) -> std::result::Result<(), S::Error> {
    let slots = slots.clamp(1, lm.max_slots());
    let eos = lm.eos_ids().to_vec();
    let context = lm.context_length();
    // Per slot: the running job's id, its state and the token to feed next.
    let mut running: Vec<Option<(usize, Row, u32)>> = (0..slots).map(|_| None).collect();
    loop {
        // Ask for work for every free slot at every step: a finished job may
        // have queued another (a retry) after the source had run dry.
        for (slot, state) in running.iter_mut().enumerate() {
            while state.is_none() {
                let Some(job) = source.next_job()? else {
                    break;
                };
                let room = context.saturating_sub(job.prompt.len());
                let mut row = Row::new(job.prompt.len(), room, &job.config, job.cap, &job.stop);
                let start = Instant::now();
                let (logits, computed) = lm
                    .prefill_in(slot, &job.prompt)
                    .map_err(crate::Error::from)?;
                row.prefilled = computed;
                row.prefill = start.elapsed();
                match row.advance(logits, &eos, &[], |ids| lm.decode(ids))? {
                    Some(next) => *state = Some((job.id, row, next)),
                    None => source.finished(job.id, row.finish())?,
                }
            }
        }
        let rows: Vec<(usize, u32)> = running
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| r.as_ref().map(|(_, _, next)| (slot, *next)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        let logits = lm.step_many(&rows).map_err(crate::Error::from)?;
        let share = start.elapsed() / rows.len() as u32;
        for (&(slot, _), logits) in rows.iter().zip(logits) {
            let (id, mut row, _) = running[slot].take().expect("slot is running");
            row.decode += share;
            match row.advance(logits, &eos, &[], |ids| lm.decode(ids))? {
                Some(next) => running[slot] = Some((id, row, next)),
                None => source.finished(id, row.finish())?,
            }
        }
    }
}

/// Sets the logits of `ids` to -inf so no sampler picks them.
fn suppress(logits: &Tensor, ids: &[u32]) -> Result<Tensor> {
    let mut values: Vec<f32> = logits.to_dtype(candle_core::DType::F32)?.to_vec1()?;
    for &id in ids {
        if let Some(v) = values.get_mut(id as usize) {
            *v = f32::NEG_INFINITY;
        }
    }
    Ok(Tensor::new(values, logits.device())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A model whose next token is a fixed function of its slot's history,
    /// so any mix-up of slots, positions or rows changes the output.
    struct Toy {
        histories: Vec<Vec<u32>>,
        slots: usize,
        widest_step: usize,
    }

    const VOCAB: usize = 40;

    impl Toy {
        fn logits(history: &[u32]) -> Tensor {
            let h: u64 = history
                .iter()
                .enumerate()
                .map(|(i, &t)| (i as u64 + 3) * (t as u64 + 1))
                .sum();
            let mut v = vec![0f32; VOCAB];
            // Token 0 is the end of sequence.
            let next = if h % 9 == 4 { 0 } else { h % VOCAB as u64 };
            v[next as usize] = 1.0;
            Tensor::new(v, &Device::Cpu).unwrap()
        }
    }

    impl BatchLm for Toy {
        fn max_slots(&self) -> usize {
            self.slots
        }
        fn context_length(&self) -> usize {
            64
        }
        fn eos_ids(&self) -> &[u32] {
            &[0]
        }
        fn prefill_in(
            &mut self,
            slot: usize,
            prompt: &[u32],
        ) -> tarjoman_models::Result<(Tensor, usize)> {
            assert!(slot < self.slots, "slot {slot} beyond {}", self.slots);
            if self.histories.len() <= slot {
                self.histories.resize(slot + 1, Vec::new());
            }
            self.histories[slot] = prompt.to_vec();
            Ok((Self::logits(prompt), prompt.len()))
        }
        fn step_many(&mut self, rows: &[(usize, u32)]) -> tarjoman_models::Result<Vec<Tensor>> {
            self.widest_step = self.widest_step.max(rows.len());
            Ok(rows
                .iter()
                .map(|&(slot, t)| {
                    self.histories[slot].push(t);
                    Self::logits(&self.histories[slot])
                })
                .collect())
        }
        fn decode(&self, ids: &[u32]) -> tarjoman_models::Result<String> {
            Ok(ids.iter().map(|i| format!("t{i} ")).collect())
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
        let mut lm = Toy {
            histories: Vec::new(),
            slots,
            widest_step: 0,
        };
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
}
