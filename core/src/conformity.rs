//! Library k-NN conformity: the Deep k-NN idea (Papernot & McDaniel 2018) on the libraries.
//!
//! Every library node is a stored training example, and the network answered that example
//! with some class — the node's class. For an input, each layer's `k` nearest nodes
//! ([`crate::predict::top_nodes`] order: canonical cosine, ties to the lower index) vote;
//! the **nonconformity** of the network's answer is the number of those votes, summed over
//! layers, that name another class. Clean inputs sit among examples of their own class at
//! every layer; an input pushed across a decision boundary keeps early-layer neighbours of
//! its old class. Its empirical p-value against clean inputs
//! ([`crate::calibrate::Calibration::p_value`]) is Deep k-NN's *credibility*.

use crate::error::{Error, Result};

/// How many of the `nodes` (indices into `node_classes`, e.g. a layer's top-k) belong to a
/// class other than `answer`. Errors on a node index out of range.
pub fn disagreements(nodes: &[(usize, f32)], node_classes: &[u32], answer: usize) -> Result<usize> {
    let mut n = 0;
    for &(i, _) in nodes {
        let c = *node_classes.get(i).ok_or(Error::DimMismatch {
            expected: node_classes.len(),
            got: i + 1,
        })?;
        n += usize::from(c as usize != answer);
    }
    Ok(n)
}

/// Each node's class: the network's answer on the training example it stores.
/// `source_ids` are the library's ([`crate::library::Library::source_ids`]), `answers` the
/// network's answers on the training rows those ids index.
pub fn node_classes(source_ids: &[u32], answers: &[usize]) -> Result<alloc::vec::Vec<u32>> {
    source_ids
        .iter()
        .map(|&id| {
            answers
                .get(id as usize)
                .map(|&a| a as u32)
                .ok_or(Error::DimMismatch {
                    expected: answers.len(),
                    got: id as usize + 1,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn counts_neighbours_of_other_classes() {
        let classes = [3u32, 3, 5, 1];
        assert_eq!(
            disagreements(&[(0, 0.9), (2, 0.8), (3, 0.1)], &classes, 3).unwrap(),
            2
        );
        assert_eq!(
            disagreements(&[(0, 0.9), (1, 0.8)], &classes, 3).unwrap(),
            0
        );
        assert_eq!(disagreements(&[], &classes, 3).unwrap(), 0);
        assert!(disagreements(&[(4, 0.5)], &classes, 3).is_err());
    }

    #[test]
    fn node_classes_are_the_answers_on_their_sources() {
        assert_eq!(node_classes(&[0, 2], &[7, 8, 9]).unwrap(), vec![7, 9]);
        assert!(node_classes(&[3], &[7, 8, 9]).is_err());
    }
}
