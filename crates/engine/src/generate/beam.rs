//! Beam search over the one model interface ([`Lm`]): one job
//! ([`beam_search`]) or many side by side ([`generate_beam`]).

use std::time::{Duration, Instant};

use candle_core::Tensor;
use tarjoman_models::lm::Lm;

use super::config::{Generation, GenerationConfig, StopReason};
use super::many::{Job, JobSource};
use super::row::{budget, budget_reason, constrain, stop_at};
use crate::Result;

/// Runs the jobs of `source` with beam search of width `beams`
/// ([`beam_search`]), `ceil(rows / beams)` jobs at a time: job `g` keeps
/// its hypotheses in slots `g * beams..(g + 1) * beams`, and every step
/// decodes the hypotheses of all running jobs in one pass, so about `rows`
/// rows share each read of the weights (as in [`generate_many`]). Models
/// that run one sequence at a time get one beam (greedy decoding).
pub fn generate_beam<S: JobSource>(
    lm: &mut dyn Lm,
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
            // A job no longer wanted frees its group, as in `generate_many`.
            if !source.wanted(id) {
                tracing::debug!(job = id, "stopped");
                continue;
            }
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
/// [`Lm`], in slots `0..beams`. At each step every live hypothesis is
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
    lm: &mut dyn Lm,
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
    suppressed: Vec<u32>,
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
        lm: &mut dyn Lm,
        job: &Job,
        base: usize,
        beams: usize,
        length_penalty: f64,
    ) -> Result<Self> {
        let room = lm.room(job.prompt.len());
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
            suppressed: lm.suppressed_ids().to_vec(),
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
    fn expand(&mut self, lm: &mut dyn Lm) -> Result<bool> {
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
            let logprobs = beam_logprobs(logits, &h.tokens, &self.config, &self.suppressed)?;
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
    fn assign_slots(&self, lm: &mut dyn Lm, next: &mut [Hypothesis]) -> Result<()> {
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
    fn finish(mut self, lm: &mut dyn Lm) -> Result<Generation> {
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
            logprobs: Vec::new(),
            prompt_tokens: self.prompt_tokens,
            prefilled: self.prefilled,
            stop,
            prefill: self.prefill,
            decode: self.decode,
        })
    }
}

/// A hypothesis's next-token log-probabilities after the job's repetition
/// penalty, n-gram ban and the model's suppressed ids.
fn beam_logprobs(
    logits: &Tensor,
    tokens: &[u32],
    cfg: &GenerationConfig,
    suppressed: &[u32],
) -> Result<Vec<f32>> {
    let values: Vec<f32> = constrain(logits, tokens, cfg, suppressed)?
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
