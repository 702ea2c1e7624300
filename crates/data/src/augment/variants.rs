//! Variants of one text field (SPEC §5 step 4): N_a rounds in which every candidate position is
//! replaced, with probability p, by one of its candidates drawn uniformly.

use rand::Rng;

/// A replaceable word: its index among the field's words and its candidates (never empty: a
/// word without candidates is its own only candidate, as in the reference).
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub word: usize,
    pub candidates: Vec<String>,
}

/// The variants of a field: `original` first, then the new sentences (words joined by spaces)
/// in the order they were drawn. A round that changes no word gives the original again and, like
/// every repeated sentence, is dropped.
///
/// Per round and slot, in slot order, one uniform candidate is drawn and then one uniform number
/// in [0, 1) decides the replacement (`< p`): the reference's order of draws.
pub fn field_variants<R: Rng>(
    original: &str,
    words: &[String],
    slots: &[Slot],
    n_aug: usize,
    p: f64,
    rng: &mut R,
) -> Vec<String> {
    let unchanged = words.join(" ");
    let mut out = vec![original.to_string()];
    let mut seen = std::collections::HashSet::new();
    seen.insert(original.to_string());
    seen.insert(unchanged);
    for _ in 0..n_aug {
        let mut new: Vec<&str> = words.iter().map(String::as_str).collect();
        for slot in slots {
            if slot.candidates.is_empty() {
                continue;
            }
            let pick = &slot.candidates[rng.random_range(0..slot.candidates.len())];
            if rng.random::<f64>() < p {
                if let Some(w) = new.get_mut(slot.word) {
                    *w = pick;
                }
            }
        }
        let joined = new.join(" ");
        if seen.insert(joined.clone()) {
            out.push(joined);
        }
    }
    out
}
