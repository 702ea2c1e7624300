//! Padded batches for the trainers: ids, segment ids, attention mask and labels as row-major
//! `[batch, seq]` arrays (or candle tensors), padded to the longest sequence of the batch or to a
//! fixed length.

use crate::error::{Error, Result};
use crate::example::{Example, Instance, Label};
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Anything that can be batched: GLUE examples and pre-training instances.
pub trait Sequence {
    /// Unpadded token ids.
    fn input_ids(&self) -> &[u32];
    /// Segment ids, one per token.
    fn token_type_ids(&self) -> &[u8];
    /// The gold label; `None` when there is none.
    fn label(&self) -> Label {
        Label::None
    }
}

impl Sequence for Example {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn token_type_ids(&self) -> &[u8] {
        &self.token_type_ids
    }
    fn label(&self) -> Label {
        self.label
    }
}

impl Sequence for Instance {
    fn input_ids(&self) -> &[u32] {
        &self.input_ids
    }
    fn token_type_ids(&self) -> &[u8] {
        &self.token_type_ids
    }
}

/// How far a batch is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// To the longest sequence in the batch (dynamic padding).
    Longest,
    /// To exactly this length (an error if a sequence is longer).
    Fixed(usize),
}

/// The labels of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchLabels {
    /// Unlabelled (test data, pre-training instances).
    None,
    /// Class ids.
    Classes(Vec<u32>),
    /// Regression targets.
    Scores(Vec<f32>),
}

/// A padded batch; every array is row-major `[batch_size, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub batch_size: usize,
    pub seq_len: usize,
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<u32>,
    pub labels: BatchLabels,
}

/// A batch as candle tensors on a device.
///
/// # Shapes
/// - `input_ids`, `token_type_ids`, `attention_mask`: `[batch, seq]`, u32
/// - `labels`: `[batch]`, u32 class ids or f32 scores; `None` when unlabelled
#[derive(Debug, Clone)]
pub struct BatchTensors {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
    pub labels: Option<Tensor>,
}

/// Pads `items` into one batch; `pad_id` fills padded ids (the dataset's `pad_id`).
pub fn collate<S: Sequence>(items: &[&S], padding: Padding, pad_id: u32) -> Result<Batch> {
    let longest = items.iter().map(|s| s.input_ids().len()).max().unwrap_or(0);
    let seq_len = match padding {
        Padding::Longest => longest,
        Padding::Fixed(n) if longest <= n => n,
        Padding::Fixed(n) => {
            return Err(Error::Invalid(format!(
                "a sequence of {longest} tokens does not fit the fixed batch length {n}"
            )))
        }
    };
    let n = items.len() * seq_len;
    let mut batch = Batch {
        batch_size: items.len(),
        seq_len,
        input_ids: Vec::with_capacity(n),
        token_type_ids: Vec::with_capacity(n),
        attention_mask: Vec::with_capacity(n),
        labels: collate_labels(items)?,
    };
    for s in items {
        let (ids, types) = (s.input_ids(), s.token_type_ids());
        if ids.len() != types.len() {
            return Err(Error::Invalid(format!(
                "sequence has {} ids but {} segment ids",
                ids.len(),
                types.len()
            )));
        }
        let pad = seq_len - ids.len();
        batch.input_ids.extend_from_slice(ids);
        batch.input_ids.extend(std::iter::repeat_n(pad_id, pad));
        batch
            .token_type_ids
            .extend(types.iter().map(|&t| u32::from(t)));
        batch.token_type_ids.extend(std::iter::repeat_n(0, pad));
        batch
            .attention_mask
            .extend(std::iter::repeat_n(1, ids.len()));
        batch.attention_mask.extend(std::iter::repeat_n(0, pad));
    }
    Ok(batch)
}

fn collate_labels<S: Sequence>(items: &[&S]) -> Result<BatchLabels> {
    let labels: Vec<Label> = items.iter().map(|s| s.label()).collect();
    match labels.first() {
        None | Some(Label::None) if labels.iter().all(|l| *l == Label::None) => {
            Ok(BatchLabels::None)
        }
        Some(Label::Class(_)) => {
            all_as(&labels, Label::class, "class labels").map(BatchLabels::Classes)
        }
        Some(Label::Score(_)) => all_as(&labels, Label::score, "scores").map(BatchLabels::Scores),
        _ => Err(Error::Invalid(
            "a batch mixes labelled and unlabelled examples".into(),
        )),
    }
}

/// Every label as `pick` reads it; a label it rejects is an error (the batch mixes `what` with
/// other labels).
fn all_as<T>(labels: &[Label], pick: fn(Label) -> Option<T>, what: &str) -> Result<Vec<T>> {
    labels
        .iter()
        .map(|l| pick(*l))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Invalid(format!("a batch mixes {what} with other labels")))
}

impl Batch {
    /// Copies the batch onto `device` as tensors.
    pub fn to_tensors(&self, device: &Device) -> Result<BatchTensors> {
        let shape = (self.batch_size, self.seq_len);
        let labels = match &self.labels {
            BatchLabels::None => None,
            BatchLabels::Classes(c) => Some(Tensor::from_slice(c, c.len(), device)?),
            BatchLabels::Scores(s) => Some(Tensor::from_slice(s, s.len(), device)?),
        };
        Ok(BatchTensors {
            input_ids: Tensor::from_slice(&self.input_ids, shape, device)?,
            token_type_ids: Tensor::from_slice(&self.token_type_ids, shape, device)?,
            attention_mask: Tensor::from_slice(&self.attention_mask, shape, device)?,
            labels,
        })
    }
}

/// Inference batches: the indices of `items` grouped into batches of at most `batch_size`,
/// shortest sequences first (a stable sort, so equal lengths keep their order), so that each
/// batch pads little. Run every batch and put its outputs back at its indices to get them in
/// input order.
pub fn length_sorted_batches<S: Sequence>(items: &[S], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].input_ids().len());
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// The indices `0..n` in a random order that depends only on `seed` and `epoch`.
pub fn shuffled_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mixed = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(mixed));
    order
}

/// Batches of a length-grouped order are cut from windows of this many batches of the shuffled
/// order (Hugging Face's `group_by_length` uses 50).
pub const GROUP_WINDOW_BATCHES: usize = 50;

/// [`shuffled_order`] regrouped so that each batch of `batch` holds sequences of similar
/// length, and pads little: the shuffled order is cut into windows of
/// [`GROUP_WINDOW_BATCHES`] batches, each window is sorted by length (longest first, stable)
/// and cut into batches, and the full batches are shuffled (the last, partial batch of the
/// epoch stays last). Depends only on `lengths`, `batch`, `seed` and `epoch`.
pub fn length_grouped_order(lengths: &[usize], batch: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let batch = batch.max(1);
    let mut order = shuffled_order(lengths.len(), seed, epoch);
    for window in order.chunks_mut(batch * GROUP_WINDOW_BATCHES) {
        window.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    }
    let full = order.len() / batch * batch;
    let mut batches: Vec<&[usize]> = order[..full].chunks(batch).collect();
    let mixed = seed ^ epoch.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    batches.shuffle(&mut rand::rngs::StdRng::seed_from_u64(mixed));
    let mut grouped: Vec<usize> = batches.concat();
    grouped.extend_from_slice(&order[full..]);
    grouped
}

/// Batches of `items` taken in `order`, `batch_size` at a time (the last one may be smaller).
pub fn batches<'a, S: Sequence>(
    items: &'a [S],
    order: &'a [usize],
    batch_size: usize,
    padding: Padding,
    pad_id: u32,
) -> impl Iterator<Item = Result<Batch>> + 'a {
    order.chunks(batch_size.max(1)).map(move |chunk| {
        let picked = chunk
            .iter()
            .map(|&i| {
                items.get(i).ok_or_else(|| {
                    Error::Invalid(format!("index {i} is out of range ({} items)", items.len()))
                })
            })
            .collect::<Result<Vec<&S>>>()?;
        collate(&picked, padding, pad_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(ids: &[u32], label: Label) -> Example {
        Example {
            guid: "g".into(),
            input_ids: ids.to_vec(),
            token_type_ids: vec![0; ids.len()],
            label,
            source_index: None,
        }
    }

    #[test]
    fn dynamic_padding_pads_to_the_longest_in_the_batch() {
        let (a, b) = (
            ex(&[101, 7, 102], Label::Class(1)),
            ex(&[101, 102], Label::Class(0)),
        );
        let batch = collate(&[&a, &b], Padding::Longest, 0).unwrap();
        assert_eq!((batch.batch_size, batch.seq_len), (2, 3));
        assert_eq!(batch.input_ids, vec![101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 0]);
        assert_eq!(batch.labels, BatchLabels::Classes(vec![1, 0]));
    }

    #[test]
    fn fixed_padding_rejects_a_longer_sequence() {
        let a = ex(&[101, 7, 8, 102], Label::None);
        assert_eq!(collate(&[&a], Padding::Fixed(6), 0).unwrap().seq_len, 6);
        assert!(collate(&[&a], Padding::Fixed(3), 0).is_err());
    }

    #[test]
    fn batch_tensors_have_batch_by_seq_shape() {
        let a = ex(&[101, 102], Label::Score(2.5));
        let t = collate(&[&a, &a], Padding::Fixed(4), 0)
            .unwrap()
            .to_tensors(&Device::Cpu)
            .unwrap();
        assert_eq!(t.input_ids.dims(), &[2, 4]);
        assert_eq!(t.labels.unwrap().to_vec1::<f32>().unwrap(), vec![2.5, 2.5]);
    }

    #[test]
    fn shuffled_order_is_a_deterministic_permutation() {
        let a = shuffled_order(100, 7, 0);
        assert_eq!(a, shuffled_order(100, 7, 0));
        assert_ne!(a, shuffled_order(100, 7, 1));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn length_grouped_order_is_a_permutation_whose_batches_pad_less() {
        let lengths: Vec<usize> = (0..1000).map(|i| 5 + (i * 37) % 120).collect();
        let batch = 8;
        let padded = |order: &[usize]| -> usize {
            order
                .chunks(batch)
                .map(|c| c.len() * c.iter().map(|&i| lengths[i]).max().unwrap())
                .sum()
        };
        let g = length_grouped_order(&lengths, batch, 7, 0);
        assert_eq!(g, length_grouped_order(&lengths, batch, 7, 0));
        assert_ne!(g, length_grouped_order(&lengths, batch, 7, 1));
        let mut sorted = g.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        let shuffled = padded(&shuffled_order(1000, 7, 0));
        assert!(
            padded(&g) * 10 < shuffled * 6,
            "{} vs {shuffled}",
            padded(&g)
        );
        // The batches are not in length order: the longest batch is not always first.
        let first_max = |seed| lengths[length_grouped_order(&lengths, batch, seed, 0)[0]];
        assert!((0..10).any(|s| first_max(s) < 100));
    }

    #[test]
    fn length_grouped_order_keeps_the_partial_batch_last() {
        let lengths: Vec<usize> = (0..21).collect();
        let g = length_grouped_order(&lengths, 4, 3, 0);
        let shuffled = shuffled_order(21, 3, 0);
        // 21 = 5 full batches + 1: the last index of the shuffled order's last window (sorted
        // longest first) is its shortest, and it stays at the end.
        let window_min = *shuffled.iter().min_by_key(|&&i| lengths[i]).unwrap();
        assert_eq!(g[20], window_min);
    }

    #[test]
    fn batches_cover_the_order_in_chunks() {
        let items: Vec<Example> = (0..5).map(|i| ex(&[i], Label::None)).collect();
        let order = vec![4, 3, 2, 1, 0];
        let sizes: Vec<usize> = batches(&items, &order, 2, Padding::Longest, 0)
            .map(|b| b.unwrap().batch_size)
            .collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn length_sorted_batches_cover_every_index_once_shortest_first() {
        let ex = |n: usize| Instance {
            input_ids: vec![1; n],
            token_type_ids: vec![0; n],
            is_random_next: false,
        };
        let items = [ex(5), ex(2), ex(9), ex(2), ex(4)];
        let b = length_sorted_batches(&items, 2);
        assert_eq!(b, vec![vec![1, 3], vec![4, 0], vec![2]]);
        assert_eq!(length_sorted_batches(&items, 0).len(), 5);
    }
}
