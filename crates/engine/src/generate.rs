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
    /// Forbids any run of this many generated tokens from appearing twice
    /// (0 = off): the next token may not complete an n-gram the output
    /// already holds. Stops loops outright where a penalty only discourages
    /// them, but also forbids legitimate repeats ("the ... of the ...") for
    /// small n.
    pub no_repeat_ngram: usize,
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
            no_repeat_ngram: 0,
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
            budget: budget(cap, cfg, room),
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
        if self.tokens.len() >= self.budget {
            self.reason = Some(budget_reason(self.tokens.len(), &self.cfg, self.room));
            return Ok(None);
        }
        logits = constrain(&logits, &self.tokens, &self.cfg, suppressed)?;
        let next = self.sampler.sample(&logits)?;
        if eos.contains(&next) {
            self.reason = Some(StopReason::Eos);
            return Ok(None);
        }
        self.tokens.push(next);
        self.text = decode(&self.tokens)?;
        if let Some(cut) = stop_at(&self.text, &self.stop) {
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
    /// Makes slot `to` a copy of slot `from` (beam search forks a
    /// hypothesis).
    fn copy_slot(&mut self, from: usize, to: usize) -> tarjoman_models::Result<()>;
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
    fn copy_slot(&mut self, from: usize, to: usize) -> tarjoman_models::Result<()> {
        CausalLm::copy_slot(self, from, to)
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
    /// Whether a running job is still needed; one that is not is stopped
    /// after the current step, without a call to `finished`.
    fn wanted(&self, _id: usize) -> bool {
        true
    }
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
                tracing::debug!(
                    job = job.id,
                    slot,
                    prompt = job.prompt.len(),
                    computed,
                    ms = row.prefill.as_millis() as u64,
                    "prefill"
                );
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
        let elapsed = start.elapsed();
        tracing::trace!(rows = rows.len(), us = elapsed.as_micros() as u64, "step");
        let share = elapsed / rows.len() as u32;
        for (&(slot, _), logits) in rows.iter().zip(logits) {
            let (id, mut row, _) = running[slot].take().expect("slot is running");
            // A job that another's result made pointless (a retry settled
            // by an earlier attempt) frees its slot.
            if !source.wanted(id) {
                tracing::debug!(job = id, slot, tokens = row.tokens.len(), "stopped");
                continue;
            }
            row.decode += share;
            match row.advance(logits, &eos, &[], |ids| lm.decode(ids))? {
                Some(next) => running[slot] = Some((id, row, next)),
                None => {
                    let g = row.finish();
                    tracing::debug!(job = id, slot, tokens = g.tokens.len(), stop = ?g.stop, "finished");
                    source.finished(id, g)?
                }
            }
        }
    }
}

/// Runs the jobs of `source` with beam search of width `beams`
/// ([`beam_search`]), `ceil(rows / beams)` jobs at a time: job `g` keeps
/// its hypotheses in slots `g * beams..(g + 1) * beams`, and every step
/// decodes the hypotheses of all running jobs in one pass, so about `rows`
/// rows share each read of the weights (as in [`generate_many`]). Models
/// that run one sequence at a time get one beam (greedy decoding).
pub fn generate_beam<S: JobSource>(
    lm: &mut dyn BatchLm,
    rows: usize,
    beams: usize,
    length_penalty: f64,
    source: &mut S,
) -> std::result::Result<(), S::Error> {
    let beams = beams.clamp(1, lm.max_slots());
    let groups = rows.div_ceil(beams).clamp(1, lm.max_slots() / beams);
    let mut running: Vec<Option<(usize, Beams)>> = (0..groups).map(|_| None).collect();
    loop {
        for (group, state) in running.iter_mut().enumerate() {
            while state.is_none() {
                let Some(job) = source.next_job()? else {
                    break;
                };
                let mut search = Beams::start(lm, &job, group * beams, beams, length_penalty)?;
                if search.expand(lm)? {
                    *state = Some((job.id, search));
                } else {
                    source.finished(job.id, search.finish(lm)?)?;
                }
            }
        }
        let mut rows = Vec::new();
        let mut widths = Vec::new();
        for (_, search) in running.iter().flatten() {
            let r = search.rows();
            widths.push(r.len());
            rows.extend(r);
        }
        if rows.is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        let mut logits = lm.step_many(&rows).map_err(crate::Error::from)?.into_iter();
        let elapsed = start.elapsed();
        let mut widths = widths.into_iter();
        for state in running.iter_mut() {
            let Some((id, mut search)) = state.take() else {
                continue;
            };
            let width = widths.next().unwrap_or(0);
            search.logits = logits.by_ref().take(width).collect();
            search.decode += elapsed * width as u32 / rows.len() as u32;
            if search.expand(lm)? {
                *state = Some((id, search));
            } else {
                source.finished(id, search.finish(lm)?)?;
            }
        }
    }
}

/// A partial translation of a beam search.
struct Hypothesis {
    tokens: Vec<u32>,
    /// Sum of the log-probabilities of `tokens`.
    score: f64,
    slot: usize,
}

/// A finished hypothesis: length-normalized score, tokens, text, reason.
type Finished = (f64, Vec<u32>, String, StopReason);

/// Beam search for one job, the same for every model family behind
/// [`BatchLm`], in slots `0..beams`. At each step every live hypothesis is
/// extended by its `2 * beams` most likely tokens (after the job's
/// repetition penalty and n-gram ban); the `beams` best extensions by total
/// log-probability live on. An extension ending in an end-of-sequence token
/// (or a stop string) is finished, scored by its log-probability divided
/// by `length ^ length_penalty`, but only if it ranks among the best
/// `beams` (as in Hugging Face transformers). The search ends when `beams`
/// hypotheses are finished and no live one can beat the worst of them
/// (scored at its current length), or when the job's length budget is
/// spent; the best finished hypothesis is the answer. The job's sampling
/// settings are ignored: beam search is deterministic.
pub fn beam_search(
    lm: &mut dyn BatchLm,
    job: &Job,
    beams: usize,
    length_penalty: f64,
) -> Result<Generation> {
    let mut search = Beams::start(lm, job, 0, beams, length_penalty)?;
    while search.expand(lm)? {
        let start = Instant::now();
        search.logits = lm.step_many(&search.rows())?;
        search.decode += start.elapsed();
    }
    search.finish(lm)
}

/// One job's beam search in progress (see [`beam_search`]), its hypotheses
/// in slots `base..base + beams`.
struct Beams {
    beams: usize,
    base: usize,
    length_penalty: f64,
    config: GenerationConfig,
    stop: Vec<String>,
    eos: Vec<u32>,
    budget: usize,
    room: usize,
    live: Vec<Hypothesis>,
    /// Next-token logits of each live hypothesis.
    logits: Vec<Tensor>,
    finished: Vec<Finished>,
    out_of_budget: bool,
    prompt_tokens: usize,
    prefilled: usize,
    prefill: Duration,
    decode: Duration,
}

impl Beams {
    /// Prefills the job's prompt in slot `base`.
    fn start(
        lm: &mut dyn BatchLm,
        job: &Job,
        base: usize,
        beams: usize,
        length_penalty: f64,
    ) -> Result<Self> {
        let room = lm.context_length().saturating_sub(job.prompt.len());
        let start = Instant::now();
        let (logits, prefilled) = lm.prefill_in(base, &job.prompt)?;
        Ok(Self {
            beams: beams.max(1),
            base,
            length_penalty,
            budget: budget(job.cap, &job.config, room),
            room,
            config: job.config.clone(),
            stop: job.stop.clone(),
            eos: lm.eos_ids().to_vec(),
            live: vec![Hypothesis {
                tokens: Vec::new(),
                score: 0.0,
                slot: base,
            }],
            logits: vec![logits],
            finished: Vec::new(),
            out_of_budget: false,
            prompt_tokens: job.prompt.len(),
            prefilled,
            prefill: start.elapsed(),
            decode: Duration::ZERO,
        })
    }

    fn normalized(&self, score: f64, len: usize) -> f64 {
        score / (len.max(1) as f64).powf(self.length_penalty)
    }

    /// Extends the live hypotheses with their logits and keeps the best;
    /// returns whether the search goes on (then [`Beams::rows`] are the
    /// tokens to feed).
    fn expand(&mut self, lm: &mut dyn BatchLm) -> Result<bool> {
        let beams = self.beams;
        if self.live.is_empty() {
            return Ok(false);
        }
        if self.live[0].tokens.len() >= self.budget {
            self.out_of_budget = true;
            return Ok(false);
        }
        // Extensions: (total score, parent, token), best first.
        let mut extensions: Vec<(f64, usize, u32)> = Vec::new();
        for (parent, (h, logits)) in self.live.iter().zip(&self.logits).enumerate() {
            let logprobs = beam_logprobs(logits, &h.tokens, &self.config)?;
            for (token, lp) in top_k(&logprobs, 2 * beams) {
                extensions.push((h.score + lp as f64, parent, token));
            }
        }
        extensions.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut next: Vec<Hypothesis> = Vec::new();
        for (rank, &(score, parent, token)) in extensions.iter().enumerate() {
            if next.len() == beams {
                break;
            }
            let parent = &self.live[parent];
            if self.eos.contains(&token) {
                if rank < beams {
                    let text = lm.decode(&parent.tokens)?;
                    let score = self.normalized(score, parent.tokens.len() + 1);
                    let tokens = parent.tokens.clone();
                    self.finished.push((score, tokens, text, StopReason::Eos));
                }
                continue;
            }
            let mut tokens = parent.tokens.clone();
            tokens.push(token);
            let mut text = lm.decode(&tokens)?;
            if let Some(cut) = stop_at(&text, &self.stop) {
                if rank < beams {
                    text.truncate(cut);
                    let score = self.normalized(score, tokens.len());
                    self.finished
                        .push((score, tokens, text, StopReason::StopString));
                }
                continue;
            }
            next.push(Hypothesis {
                tokens,
                score,
                slot: parent.slot,
            });
        }
        self.logits.clear();
        // Done when `beams` answers are finished and no live hypothesis
        // can beat the worst of the best `beams` of them.
        self.finished.sort_by(|a, b| b.0.total_cmp(&a.0));
        self.finished.truncate(beams);
        if self.finished.len() == beams {
            let best_live = next.first().map_or(f64::NEG_INFINITY, |h| {
                self.normalized(h.score, h.tokens.len())
            });
            if self.finished[beams - 1].0 >= best_live {
                self.live.clear();
                return Ok(false);
            }
        }
        self.assign_slots(lm, &mut next)?;
        self.live = next;
        Ok(!self.live.is_empty())
    }

    /// Gives every hypothesis a slot holding its parent's sequence: the
    /// first child of a parent takes over the parent's slot, the others get
    /// a copy in a slot no surviving hypothesis needs.
    fn assign_slots(&self, lm: &mut dyn BatchLm, next: &mut [Hypothesis]) -> Result<()> {
        let mut taken = vec![false; self.beams];
        let mut forks = Vec::new();
        for (i, h) in next.iter().enumerate() {
            let own = &mut taken[h.slot - self.base];
            if *own {
                forks.push(i);
            } else {
                *own = true;
            }
        }
        for i in forks {
            let free = taken
                .iter()
                .position(|t| !t)
                .ok_or_else(|| crate::Error::Internal("beam search ran out of slots".into()))?;
            taken[free] = true;
            lm.copy_slot(next[i].slot, self.base + free)?;
            next[i].slot = self.base + free;
        }
        Ok(())
    }

    /// The token each live hypothesis feeds next, in its slot.
    fn rows(&self) -> Vec<(usize, u32)> {
        self.live
            .iter()
            .filter_map(|h| Some((h.slot, *h.tokens.last()?)))
            .collect()
    }

    /// The best finished hypothesis (those still live when the budget ran
    /// out count as finished).
    fn finish(mut self, lm: &mut dyn BatchLm) -> Result<Generation> {
        let reason = match self.out_of_budget {
            true => budget_reason(self.budget, &self.config, self.room),
            false => StopReason::Eos,
        };
        if self.out_of_budget {
            for h in &self.live {
                let text = lm.decode(&h.tokens)?;
                let score = self.normalized(h.score, h.tokens.len());
                self.finished.push((score, h.tokens.clone(), text, reason));
            }
        }
        self.finished.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (_, tokens, text, stop) =
            self.finished
                .into_iter()
                .next()
                .unwrap_or((0.0, Vec::new(), String::new(), reason));
        Ok(Generation {
            text,
            tokens,
            prompt_tokens: self.prompt_tokens,
            prefilled: self.prefilled,
            stop,
            prefill: self.prefill,
            decode: self.decode,
        })
    }
}

/// A hypothesis's next-token log-probabilities after the job's repetition
/// penalty and n-gram ban.
fn beam_logprobs(logits: &Tensor, tokens: &[u32], cfg: &GenerationConfig) -> Result<Vec<f32>> {
    let values: Vec<f32> = constrain(logits, tokens, cfg, &[])?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1()?;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = values.iter().map(|v| (v - max).exp()).sum::<f32>().ln() + max;
    Ok(values.into_iter().map(|v| v - log_sum).collect())
}

/// The `k` largest values with their indices, largest first.
fn top_k(values: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..values.len() as u32).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    let by_value = |a: &u32, b: &u32| values[*b as usize].total_cmp(&values[*a as usize]);
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, by_value);
        idx.truncate(k);
    }
    idx.sort_by(by_value);
    idx.into_iter()
        .map(|i| (i, values[i as usize]))
        .filter(|(_, v)| v.is_finite())
        .collect()
}

/// The tokens that would complete an `n`-gram already present in `tokens`
/// (none when `n` is 0): every token that followed an earlier occurrence
/// of the last `n - 1` tokens.
fn repeated_ngram_completions(tokens: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || tokens.len() < n {
        return Vec::new();
    }
    let tail = &tokens[tokens.len() + 1 - n..];
    tokens
        .windows(n)
        .filter(|w| &w[..n - 1] == tail)
        .map(|w| w[n - 1])
        .collect()
}

/// How many tokens a generation may add: the caller's cap, the
/// configuration's limit and the room left in the context, whichever is
/// smallest.
fn budget(cap: Option<usize>, cfg: &GenerationConfig, room: usize) -> usize {
    cap.unwrap_or(usize::MAX).min(cfg.max_new_tokens).min(room)
}

/// Why a generation of `len` tokens that used up its [`budget`] stopped.
fn budget_reason(len: usize, cfg: &GenerationConfig, room: usize) -> StopReason {
    if len >= cfg.max_new_tokens {
        StopReason::MaxTokens
    } else if len >= room {
        StopReason::ContextFull
    } else {
        StopReason::LengthCap
    }
}

/// Where the first of the `stop` strings starts in `text`.
fn stop_at(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// The logits after `cfg`'s repetition penalty over `tokens` (the output
/// so far), its n-gram ban and the `suppressed` ids: what greedy decoding,
/// sampling and beam search all choose from.
fn constrain(
    logits: &Tensor,
    tokens: &[u32],
    cfg: &GenerationConfig,
    suppressed: &[u32],
) -> Result<Tensor> {
    let mut logits = logits.clone();
    if cfg.repeat_penalty != 1.0 && !tokens.is_empty() {
        let from = tokens.len().saturating_sub(cfg.repeat_last_n);
        logits = candle_transformers::utils::apply_repeat_penalty(
            &logits,
            cfg.repeat_penalty,
            &tokens[from..],
        )?;
    }
    let banned = repeated_ngram_completions(tokens, cfg.no_repeat_ngram);
    if !suppressed.is_empty() || !banned.is_empty() {
        logits = suppress(&logits, &[suppressed, &banned[..]].concat())?;
    }
    Ok(logits)
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
            *self.slot(slot) = prompt.to_vec();
            Ok((self.logits(prompt), prompt.len()))
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

    #[test]
    fn jobs_no_longer_wanted_stop_and_free_their_slot() {
        /// Jobs 0..4 with long caps; when job 0 finishes, jobs 1 and 2 are
        /// no longer wanted, and job 4 waits for a free slot.
        struct Settling {
            pending: Vec<Job>,
            finished: Vec<usize>,
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
        let mut lm = Toy::new(4, peaked);
        let mut jobs = Settling {
            // Job 0 stops at its cap of 2 tokens, the others run longer.
            pending: (0..5)
                .map(|i| job(i, vec![5 + i as u32, 9], if i == 0 { 2 } else { 40 }))
                .collect(),
            finished: Vec::new(),
        };
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
}
