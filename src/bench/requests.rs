//! What each bench request asks for: the prompt (one, or a pool used in turn), the image
//! parameters, and the seed policy.

use crate::api::wire::GenerateRequest;
use crate::cli::SeedArg;
use std::path::Path;

/// Prompts used when none is given: varied scenes of similar cost.
pub const DEFAULT_PROMPTS: &[&str] = &[
    "a red fox in the snow, golden hour",
    "a lighthouse on a rocky coast at dusk, watercolor",
    "a bowl of ramen on a wooden table, studio photo",
    "a mountain village under the milky way",
    "a vintage bicycle leaning against a blue door",
];

/// Builds the request body of the k-th request.
#[derive(Debug, Clone)]
pub struct RequestSource {
    pub prompts: Vec<String>,
    pub steps: u32,
    pub guidance: f64,
    pub width: u32,
    pub height: u32,
    pub seed: Option<SeedArg>,
}

/// A prompts file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PromptsError {
    #[error("cannot read the prompts file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the prompts file {0} has no prompts (one per line; blank lines and # comments are skipped)"
    )]
    Empty(String),
}

/// Reads a prompts file: one prompt per line, blank lines and lines starting with # skipped.
pub fn read_prompts(path: &Path) -> Result<Vec<String>, PromptsError> {
    let text = std::fs::read_to_string(path).map_err(|source| PromptsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let prompts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if prompts.is_empty() {
        return Err(PromptsError::Empty(path.display().to_string()));
    }
    Ok(prompts)
}

impl RequestSource {
    /// The body of request number `seq`: prompts used in turn, a fresh seed per request with
    /// `--seed random` (within the newer service's 0..2³²−1).
    pub fn request(&self, seq: u64) -> GenerateRequest {
        let prompt = if self.prompts.is_empty() {
            DEFAULT_PROMPTS[(seq % DEFAULT_PROMPTS.len() as u64) as usize].to_string()
        } else {
            self.prompts[(seq % self.prompts.len() as u64) as usize].clone()
        };
        let seed = match self.seed {
            None => None,
            Some(SeedArg::Fixed(n)) => Some(n),
            Some(SeedArg::Random) => Some(rand::random::<u32>() as u64),
        };
        GenerateRequest {
            prompt,
            num_inference_steps: self.steps,
            guidance_scale: self.guidance,
            width: self.width,
            height: self.height,
            seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(prompts: Vec<String>, seed: Option<SeedArg>) -> RequestSource {
        RequestSource {
            prompts,
            steps: 25,
            guidance: 3.5,
            width: 768,
            height: 512,
            seed,
        }
    }

    #[test]
    fn prompts_rotate_and_parameters_pass_through() {
        let s = source(vec!["a".into(), "b".into()], Some(SeedArg::Fixed(7)));
        let r: Vec<GenerateRequest> = (0..3).map(|k| s.request(k)).collect();
        assert_eq!(r[0].prompt, "a");
        assert_eq!(r[1].prompt, "b");
        assert_eq!(r[2].prompt, "a");
        assert_eq!(
            (r[0].num_inference_steps, r[0].width, r[0].height, r[0].seed),
            (25, 768, 512, Some(7))
        );
        assert_eq!(r[0].guidance_scale, 3.5);
        let d = source(vec![], None).request(1);
        assert_eq!(d.prompt, DEFAULT_PROMPTS[1]);
        assert_eq!(d.seed, None);
    }

    #[test]
    fn random_seeds_stay_in_range_and_vary() {
        let s = source(vec![], Some(SeedArg::Random));
        let seeds: std::collections::HashSet<u64> =
            (0..50).map(|k| s.request(k).seed.unwrap()).collect();
        assert!(seeds.len() > 40);
        assert!(seeds.iter().all(|&x| x <= u32::MAX as u64));
    }

    #[test]
    fn prompts_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.txt");
        std::fs::write(&p, "# comment\n\n  first prompt \nsecond\n").unwrap();
        assert_eq!(read_prompts(&p).unwrap(), vec!["first prompt", "second"]);
        std::fs::write(&p, "# only a comment\n\n").unwrap();
        assert!(matches!(read_prompts(&p), Err(PromptsError::Empty(_))));
        assert!(matches!(
            read_prompts(&dir.path().join("missing")),
            Err(PromptsError::Read { .. })
        ));
    }
}
