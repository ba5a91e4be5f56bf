//! Greedy decoding with an [`M2M100`], as transformers' `generate` with
//! `num_beams=1, do_sample=False`.

use candle_core::{Tensor, D};

use super::config::Variant;
use super::model::M2M100;
use crate::{Error, Result};

impl M2M100 {
    /// (vocab,) additive bias: -inf at `ids`, 0 elsewhere.
    fn suppression(&self, ids: &[u32]) -> Result<Tensor> {
        let vocab = self.config.vocab_size;
        let values: Vec<f32> = (0..vocab as u32)
            .map(|id| {
                if ids.contains(&id) {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Tensor::from_vec(values, vocab, &self.device)?)
    }

    /// Greedy decoding of one source, as transformers' `generate` with
    /// `num_beams=1, do_sample=False`: starts from `decoder_start_token_id`,
    /// emits `forced_bos` (the target language code) first when given, and
    /// stops after `</s>` or `max_new_tokens` tokens. Returns the generated
    /// ids without the start token, with the final `</s>` when reached.
    pub fn greedy(
        &self,
        source: &[u32],
        forced_bos: Option<u32>,
        max_new_tokens: usize,
    ) -> Result<Vec<u32>> {
        let mut rows = self.greedy_batch(&[source], forced_bos, max_new_tokens)?;
        rows.pop()
            .ok_or_else(|| Error::Input("greedy decoding returned no row".into()))
    }

    /// [`Self::greedy`] over a padded batch; each row equals its result alone.
    pub fn greedy_batch<S: AsRef<[u32]>>(
        &self,
        sources: &[S],
        forced_bos: Option<u32>,
        max_new_tokens: usize,
    ) -> Result<Vec<Vec<u32>>> {
        let encoded = self.encode(sources)?;
        let mut cache = self.start_decoding(&encoded)?;
        let batch = sources.len();
        let eos = self.config.eos_token_id;
        let mut outputs: Vec<Vec<u32>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        let mut next: Vec<[u32; 1]> = vec![[self.config.decoder_start_token_id]; batch];
        // Marian checkpoints ban the pad token (`bad_words_ids`).
        let banned = match self.config.variant {
            Variant::Marian => Some(self.suppression(&[self.config.pad_token_id])?),
            Variant::M2M100 => None,
        };
        for step in 0..max_new_tokens {
            let logits = self.decode(&next, &mut cache)?;
            let chosen: Vec<u32> = match (step, forced_bos) {
                (0, Some(bos)) => vec![bos; batch],
                _ => {
                    let logits = logits.squeeze(1)?;
                    let logits = match &banned {
                        Some(banned) => logits.broadcast_add(banned)?,
                        None => logits,
                    };
                    logits.argmax(D::Minus1)?.to_vec1()?
                }
            };
            let rows = outputs.iter_mut().zip(&mut done).zip(&mut next);
            for (((out, finished), feed), &id) in rows.zip(&chosen) {
                if *finished {
                    // A finished row keeps step with the batch on padding;
                    // its output no longer changes.
                    *feed = [self.config.pad_token_id];
                    continue;
                }
                out.push(id);
                *finished = id == eos;
                *feed = [id];
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(outputs)
    }
}
