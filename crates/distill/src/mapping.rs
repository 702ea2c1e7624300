//! Layer mapping `g(m)` between student layer m and teacher layer g(m) (SPEC §2).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which teacher layer each student layer learns from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LayerMapping {
    /// g(m) = k·m with k = N/M (the paper's default).
    #[default]
    Uniform,
    /// g(m) = m + N - M: the teacher's top layers.
    Top,
    /// g(m) = m: the teacher's bottom layers.
    Bottom,
    /// g(m) = list[m-1] for m = 1..M (1-based teacher layers).
    Explicit(Vec<usize>),
}

impl LayerMapping {
    /// Parses `uniform`, `top`, `bottom` or a comma-separated list such as `2,4,6`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "top" => Ok(Self::Top),
            "bottom" => Ok(Self::Bottom),
            list => list
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(Self::Explicit)
                .map_err(|_| {
                    Error::Config(format!(
                        "layer mapping `{s}`: expected uniform, top, bottom or a list like 2,4,6"
                    ))
                }),
        }
    }

    /// `g(m)` for m = 1..=student_layers, checked against the teacher depth.
    pub fn teacher_layers(
        &self,
        teacher_layers: usize,
        student_layers: usize,
    ) -> Result<Vec<usize>> {
        let (n, m) = (teacher_layers, student_layers);
        if m == 0 || m > n {
            return Err(Error::Config(format!(
                "a student with {m} layers cannot learn from a teacher with {n}"
            )));
        }
        let g: Vec<usize> = match self {
            Self::Uniform => {
                if n % m != 0 {
                    return Err(Error::Config(format!(
                        "uniform layer mapping needs the teacher's {n} layers to be a multiple of the student's {m} (k = N/M)"
                    )));
                }
                (1..=m).map(|i| i * (n / m)).collect()
            }
            Self::Top => (1..=m).map(|i| i + n - m).collect(),
            Self::Bottom => (1..=m).collect(),
            Self::Explicit(list) => {
                if list.len() != m || list.iter().any(|&l| l == 0 || l > n) {
                    return Err(Error::Config(format!(
                        "explicit layer mapping {list:?} must give {m} teacher layers in 1..={n}"
                    )));
                }
                list.clone()
            }
        };
        Ok(g)
    }

    /// Pairs (student hidden state j, teacher hidden state) for j = 0..=M; j = 0 (embeddings)
    /// maps to the teacher embeddings.
    pub fn hidden_pairs(
        &self,
        teacher_layers: usize,
        student_layers: usize,
    ) -> Result<Vec<(usize, usize)>> {
        let g = self.teacher_layers(teacher_layers, student_layers)?;
        Ok(std::iter::once((0, 0))
            .chain(g.into_iter().enumerate().map(|(i, t)| (i + 1, t)))
            .collect())
    }

    /// Pairs (student attention layer index, teacher attention layer index), 0-based into the
    /// `attention_scores` vectors.
    pub fn attention_pairs(
        &self,
        teacher_layers: usize,
        student_layers: usize,
    ) -> Result<Vec<(usize, usize)>> {
        let g = self.teacher_layers(teacher_layers, student_layers)?;
        Ok(g.into_iter().enumerate().map(|(i, t)| (i, t - 1)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    #[test]
    fn uniform_mapping_of_twelve_to_four_takes_every_third_layer() {
        let m = LayerMapping::Uniform;
        assert_eq!(m.teacher_layers(12, 4).unwrap(), [3, 6, 9, 12]);
        assert_eq!(
            m.hidden_pairs(12, 4).unwrap(),
            [(0, 0), (1, 3), (2, 6), (3, 9), (4, 12)]
        );
        assert_eq!(
            m.attention_pairs(12, 4).unwrap(),
            [(0, 2), (1, 5), (2, 8), (3, 11)]
        );
    }

    #[test]
    fn top_and_bottom_mappings_follow_the_paper() {
        assert_eq!(
            LayerMapping::Top.teacher_layers(12, 4).unwrap(),
            [9, 10, 11, 12]
        );
        assert_eq!(
            LayerMapping::Bottom.teacher_layers(12, 4).unwrap(),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn uniform_mapping_is_an_error_when_k_does_not_divide() {
        let err = LayerMapping::Uniform
            .teacher_layers(6, 4)
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["multiple"]);
    }

    #[test]
    fn explicit_lists_parse_and_are_checked() {
        let m = LayerMapping::parse("2,4,6").unwrap();
        assert_eq!(m.teacher_layers(6, 3).unwrap(), [2, 4, 6]);
        assert!(m.teacher_layers(6, 2).is_err());
        assert!(LayerMapping::parse("2,x").is_err());
        assert!(LayerMapping::parse("0,1,2")
            .unwrap()
            .teacher_layers(6, 3)
            .is_err());
    }
}
