//! Variant generation of one field (SPEC §5 step 4).

use rand::rngs::StdRng;
use rand::SeedableRng;
use tinybert_data::augment::{field_variants, Slot};

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(String::from).collect()
}

fn slot(word: usize, candidates: &[&str]) -> Slot {
    Slot {
        word,
        candidates: candidates.iter().map(|c| c.to_string()).collect(),
    }
}

#[test]
fn with_p_zero_only_the_original_remains_even_when_re_spaced() {
    let w = words("the cat sat .");
    let slots = [slot(1, &["dog", "cow"]), slot(2, &["ran"])];
    let mut rng = StdRng::seed_from_u64(1);
    let v = field_variants("The cat sat.", &w, &slots, 20, 0.0, &mut rng);
    assert_eq!(
        v,
        ["The cat sat."],
        "`the cat sat .` is the original, not a variant"
    );
}

#[test]
fn with_p_one_every_candidate_position_is_replaced() {
    let w = words("the cat sat .");
    let slots = [slot(1, &["dog"]), slot(2, &["ran"])];
    let mut rng = StdRng::seed_from_u64(1);
    let v = field_variants("the cat sat .", &w, &slots, 20, 1.0, &mut rng);
    assert_eq!(v, ["the cat sat .", "the dog ran ."]);
}

#[test]
fn variants_are_distinct_original_first_and_use_only_candidates() {
    let w = words("a good long film");
    let slots = [
        slot(1, &["fine", "great"]),
        slot(3, &["movie", "picture", "film"]),
    ];
    let mut rng = StdRng::seed_from_u64(3);
    let v = field_variants("a good long film", &w, &slots, 50, 0.5, &mut rng);
    assert_eq!(v[0], "a good long film");
    let mut sorted = v.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), v.len(), "no repeats: {v:?}");
    // 3 x 4 combinations of the two positions, one of them the original.
    assert!(v.len() <= 12 && v.len() > 5, "{v:?}");
    for s in &v[1..] {
        let t = words(s);
        assert_eq!((t[0].as_str(), t[2].as_str()), ("a", "long"), "{s}");
        assert!(["good", "fine", "great"].contains(&t[1].as_str()), "{s}");
        assert!(["movie", "picture", "film"].contains(&t[3].as_str()), "{s}");
    }
}

#[test]
fn the_same_generator_state_gives_the_same_variants() {
    let w = words("a good long film");
    let slots = [slot(1, &["fine", "great"]), slot(3, &["movie", "picture"])];
    let run = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        field_variants("a good long film", &w, &slots, 10, 0.4, &mut rng)
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}
