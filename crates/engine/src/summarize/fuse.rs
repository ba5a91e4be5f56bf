//! Fusing a few article sentences into one summary sentence with the
//! language model, many groups (and attempts) decoded together as rows of
//! one batch.

use tarjoman_models::causal::CausalLm;

use crate::generate::{generate_many, Generation, GenerationConfig, Job, JobSource};
use crate::prompt::PromptBook;
use crate::translate::options::{SAMPLE_TEMPERATURE, SAMPLE_TOP_P};
use crate::{Error, Result};

/// New tokens one fused sentence may take.
const FUSE_TOKENS: usize = 80;

/// One group of article sentences to fuse.
#[derive(Debug, Clone)]
pub struct FuseRequest {
    pub sentences: Vec<String>,
    /// Said after the sentences (what a retry must avoid).
    pub note: Option<String>,
    /// How many answers to generate: one decodes as configured; more all
    /// sample, each with its own seed.
    pub attempts: usize,
}

struct Source {
    jobs: Vec<Job>,
    stride: usize,
    out: Vec<Vec<Option<String>>>,
}

impl JobSource for Source {
    type Error = Error;

    fn next_job(&mut self) -> Result<Option<Job>> {
        Ok(self.jobs.pop())
    }

    fn finished(&mut self, id: usize, generation: Generation) -> Result<()> {
        let (request, attempt) = (id / self.stride, id % self.stride);
        self.out[request][attempt] = Some(one_sentence(&generation.text));
        Ok(())
    }
}

/// The answer as one sentence: label lines ("Summary:"), list marks and
/// quotes dropped, only the first sentence kept.
fn one_sentence(text: &str) -> String {
    let clean = |s: &str| {
        s.trim()
            .trim_start_matches(['-', '*', '•', '"', '“', ' '])
            .trim_end_matches(['"', '”'])
            .trim()
            .to_string()
    };
    let body: Vec<String> = text
        .lines()
        .map(clean)
        .filter(|l| !l.is_empty() && !l.ends_with(':'))
        .collect();
    let body = body.join(" ");
    let first = tarjoman_text::sentences(&body)
        .map(clean)
        .find(|s| !s.is_empty())
        .unwrap_or_default();
    first
}

/// The answers to `requests`, each a list of `attempts` sentences in
/// attempt order (the first attempt of a single-attempt request is the
/// configured decoding, greedy by default).
pub fn fuse(
    lm: &mut CausalLm,
    format: &str,
    requests: &[FuseRequest],
    cfg: &GenerationConfig,
) -> Result<Vec<Vec<String>>> {
    let book = PromptBook::builtin()?;
    let task = book.task("fuse")?;
    let format = book.format(format)?;
    let stride = requests
        .iter()
        .map(|r| r.attempts)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut jobs = Vec::new();
    for (r, request) in requests.iter().enumerate() {
        let prompt = format.render_with_note(
            task,
            0,
            &request.sentences.join("\n"),
            request.note.as_deref(),
        );
        let mut ids = Vec::new();
        if lm.info.add_bos {
            ids.extend(lm.info.bos_id);
        }
        ids.extend(lm.encode(&prompt.text)?);
        for k in 0..request.attempts {
            let mut config = cfg.clone();
            if request.attempts > 1 {
                config.seed = cfg.seed.wrapping_add(1 + k as u64);
                config.temperature = Some(SAMPLE_TEMPERATURE);
                config.top_p = Some(SAMPLE_TOP_P);
            }
            jobs.push(Job {
                id: r * stride + k,
                prompt: ids.clone(),
                config,
                cap: Some(FUSE_TOKENS),
                stop: prompt.stop.clone(),
            });
        }
    }
    // Popped from the back: the first request's first attempt goes first.
    jobs.reverse();
    let slots = jobs.len().max(1);
    let mut source = Source {
        jobs,
        stride,
        out: requests.iter().map(|r| vec![None; r.attempts]).collect(),
    };
    generate_many(lm, slots, &mut source)?;
    Ok(source
        .out
        .into_iter()
        .map(|attempts| {
            attempts
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::one_sentence;

    #[test]
    fn answers_become_one_clean_sentence() {
        assert_eq!(
            one_sentence("Summary:\n- \"Talks ended without a deal.\" They left."),
            "Talks ended without a deal."
        );
        assert_eq!(one_sentence("  "), "");
    }
}
