//! Dropping documents mid-run, on a toy model that decodes without
//! weights: each slot's next token is a fixed function of its history.
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use candle_core::{Device, Tensor};

use super::*;

/// Sentences whose first input id is 100 or more never end (they run
/// to their cap); the others end after 4 tokens. Counts the rows it
/// decodes for each first input id, and every step.
struct Toy {
    histories: Vec<Vec<u32>>,
    rows: Rc<RefCell<Vec<(u32, usize)>>>,
    steps: Rc<Cell<usize>>,
}

impl Toy {
    fn logits(history: &[u32]) -> Tensor {
        let mut v = vec![0f32; 8];
        let long = history[0] >= 100;
        v[if !long && history.len() > 4 { 0 } else { 7 }] = 1.0;
        Tensor::new(v, &Device::Cpu).unwrap()
    }
}

impl Lm for Toy {
    fn max_slots(&self) -> usize {
        self.histories.len()
    }
    fn room(&self, input_len: usize) -> usize {
        64 - input_len
    }
    fn eos_ids(&self) -> &[u32] {
        &[0]
    }
    fn prefill_in(
        &mut self,
        slot: usize,
        input: &[u32],
    ) -> tarjoman_models::Result<(Tensor, usize)> {
        self.histories[slot] = input.to_vec();
        Ok((Toy::logits(input), input.len()))
    }
    fn step(&mut self, slot: usize, token: u32) -> tarjoman_models::Result<Tensor> {
        Ok(self.step_many(&[(slot, token)])?.remove(0))
    }
    fn step_many(&mut self, rows: &[(usize, u32)]) -> tarjoman_models::Result<Vec<Tensor>> {
        self.steps.set(self.steps.get() + 1);
        let mut out = Vec::new();
        for &(slot, token) in rows {
            let h = &mut self.histories[slot];
            h.push(token);
            let mut counts = self.rows.borrow_mut();
            match counts.iter_mut().find(|(id, _)| *id == h[0]) {
                Some(c) => c.1 += 1,
                None => counts.push((h[0], 1)),
            }
            out.push(Toy::logits(h));
        }
        Ok(out)
    }
    fn copy_slot(&mut self, from: usize, to: usize) -> tarjoman_models::Result<()> {
        self.histories[to] = self.histories[from].clone();
        Ok(())
    }
    fn decode(&self, ids: &[u32]) -> tarjoman_models::Result<String> {
        Ok(ids.iter().map(|i| format!("w{i} ")).collect())
    }
}

/// Translates `docs` (each sentence's input id: `first[doc]` plus its
/// index in the document) while `keep` holds, counting each
/// document's records and each input id's decoded rows.
fn run(
    docs: &[&str],
    first: &[u32],
    keep: &dyn Fn(usize, &[usize], usize) -> bool,
) -> (Vec<usize>, Vec<(u32, usize)>) {
    let opts = TranslateOptions {
        retry: false,
        batch: 2,
        ..Default::default()
    };
    let cuts: Vec<Vec<Piece>> = docs.iter().map(|t| cut(t, opts.unit)).collect();
    let mut prepared = Vec::new();
    for (doc, pieces) in cuts.iter().enumerate() {
        let sentences = pieces.iter().filter(|p| p.kind == PieceKind::Sentence);
        for (k, piece) in sentences.enumerate() {
            prepared.push(Prepared {
                text: docs[doc][piece.span.clone()].to_string(),
                source_tokens: 1,
                input: Some(vec![first[doc] + k as u32]),
            });
        }
    }
    let rows = Rc::new(RefCell::new(Vec::new()));
    let steps = Rc::new(Cell::new(0));
    let mut lm = Toy {
        histories: vec![Vec::new(); 2],
        rows: Rc::clone(&rows),
        steps: Rc::clone(&steps),
    };
    let records = RefCell::new(vec![0; docs.len()]);
    let keep = |doc: usize| keep(doc, &records.borrow(), steps.get());
    translate(
        &mut lm,
        &Prompter::Source,
        &opts,
        docs,
        cuts,
        prepared,
        &keep,
        |doc, event| {
            if let Event::Record(_) = event {
                records.borrow_mut()[doc] += 1;
            }
            Ok::<_, crate::Error>(())
        },
    )
    .unwrap();
    let rows = rows.borrow().clone();
    (records.into_inner(), rows)
}

const THREE: &str = "یک دو سه.\nچهار پنج شش.\nهفت هشت نه.";
const ONE: &str = "ده یازده.";

#[test]
fn kept_documents_decode_every_sentence() {
    let (records, rows) = run(&[THREE, ONE], &[10, 20], &|_, _, _| true);
    assert_eq!(records, vec![3, 1]);
    let mut ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    ids.sort();
    assert_eq!(ids, vec![10, 11, 12, 20]);
}

#[test]
fn a_dropped_document_starts_no_more_sentences_and_the_others_finish() {
    // Document 0 is dropped once its first sentence is reported.
    let (records, rows) = run(&[THREE, ONE], &[10, 20], &|doc, records, _| {
        doc != 0 || records[0] < 1
    });
    assert_eq!(records, vec![1, 1]);
    let mut ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    ids.sort();
    // Its second and third sentences were never decoded.
    assert_eq!(ids, vec![10, 20]);
}

#[test]
fn a_dropped_documents_running_row_leaves_the_batch() {
    // Document 0's sentence never ends on its own (it would run to its
    // cap of 16 or more tokens); it is dropped after 3 steps, and the
    // document after it, held back behind it until then, is reported.
    let (records, rows) = run(&["یک دو سه.", ONE], &[100, 20], &|doc, _, steps| {
        doc != 0 || steps < 3
    });
    assert_eq!(records, vec![0, 1]);
    let long = rows.iter().find(|r| r.0 == 100).map_or(0, |r| r.1);
    assert_eq!(long, 3, "rows of the dropped sentence: {rows:?}");
}
