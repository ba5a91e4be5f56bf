//! Decoding loops over the one model interface ([`Lm`]): one prompt
//! ([`generate`]), or many jobs with continuous batching
//! ([`generate_many`]).

use std::time::Instant;

use tarjoman_models::lm::Lm;

use super::config::{Generation, GenerationConfig};
use super::row::Row;
use crate::Result;

/// Generates a continuation of `prompt` (for an encoder-decoder model: a
/// translation of the source `prompt`).
///
/// `cap` limits this call's new tokens below `cfg.max_new_tokens` (reported
/// as [`StopReason::LengthCap`]); `stop` strings end the answer and are cut
/// from the text.
pub fn generate(
    lm: &mut dyn Lm,
    prompt: &[u32],
    cfg: &GenerationConfig,
    cap: Option<usize>,
    stop: &[String],
) -> Result<Generation> {
    let mut row = Row::new(prompt.len(), lm.room(prompt.len()), cfg, cap, stop);
    let suppressed = lm.suppressed_ids().to_vec();
    let start = Instant::now();
    let (mut logits, computed) = lm.prefill_in(0, prompt)?;
    row.prefilled = computed;
    row.prefill = start.elapsed();
    let start = Instant::now();
    while let Some(next) = row.advance(logits, lm.eos_ids(), &suppressed, |ids| lm.decode(ids))? {
        logits = lm.step(0, next)?;
    }
    row.decode = start.elapsed();
    Ok(row.finish())
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
/// weights ([`Lm::step_many`]), so on a memory-bound CPU four
/// sequences take little longer per step than one.
///
/// Each job's result is what [`generate`] would give for it alone, up to
/// floating-point differences between batched and single-row matrix
/// products (near-ties of the two best logits can then flip a greedy
/// choice). Decoding time is shared equally among the rows of a step.
pub fn generate_many<S: JobSource>(
    lm: &mut dyn Lm,
    slots: usize,
    source: &mut S,
) -> std::result::Result<(), S::Error> {
    let slots = slots.clamp(1, lm.max_slots());
    let eos = lm.eos_ids().to_vec();
    let suppressed = lm.suppressed_ids().to_vec();
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
                let room = lm.room(job.prompt.len());
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
                match row.advance(logits, &eos, &suppressed, |ids| lm.decode(ids))? {
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
            match row.advance(logits, &eos, &suppressed, |ids| lm.decode(ids))? {
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
