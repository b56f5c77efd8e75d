use super::*;
use crate::stats::quantile_sorted;
use crate::workload::TraceSummary;
use crate::workload::NO_ROW;

fn class(arrivals: Arrivals, num_requests: u32) -> GeneratorClass {
    GeneratorClass { arrivals, num_requests, ..GeneratorClass::default() }
}

#[test]
fn poisson_arrivals_have_the_requested_rate_and_lengths_their_distributions() {
    let generator = Generator::single(GeneratorClass {
        arrivals: Arrivals::Poisson { rate_per_s: 10.0 },
        num_requests: 20_000,
        prompt_tokens: Lengths::Lognormal { median: 1_000.0, sigma: 0.5, max: 1_000_000 },
        output_tokens: Lengths::Uniform { min: 10, max: 20 },
        ..GeneratorClass::default()
    });
    let trace = generator.generate(1);
    let span = trace.arrived_at.last().unwrap().as_secs_f64();
    let rate = (trace.num_requests() - 1) as f64 / span;
    assert!((rate - 10.0).abs() < 0.2, "rate {rate}");
    let mut prompts: Vec<f64> = trace.prompt_tokens.iter().map(|&t| f64::from(t)).collect();
    prompts.sort_by(f64::total_cmp);
    let median = quantile_sorted(&prompts, 0.5).unwrap();
    assert!((median - 1_000.0).abs() < 20.0, "median {median}");
    assert!(trace.output_tokens.iter().all(|&t| (10..=20).contains(&t)));
    assert!(trace.output_tokens.contains(&10) && trace.output_tokens.contains(&20));
    assert!(trace.follows.is_empty() && trace.sessions.is_empty() && trace.classes.is_empty());
}

#[test]
fn gamma_burstiness_shows_as_the_cv_of_gaps_in_the_summary() {
    let trace = Generator::single(class(Arrivals::Gamma { rate_per_s: 5.0, cv: 3.0 }, 100_000)).generate(2);
    let summary = TraceSummary::of(&trace).unwrap();
    let cv = summary.gap_cv.unwrap();
    // The cv of 100,000 gamma gaps with cv 3 has a standard error of about 1 %.
    assert!((cv / 3.0 - 1.0).abs() < 0.05, "cv {cv}");
    assert!((summary.mean_rate_per_s.unwrap() / 5.0 - 1.0).abs() < 0.03);
}

#[test]
fn streams_are_independent_and_a_second_class_leaves_the_first_unchanged() {
    let base = Generator::default();
    let other_outputs =
        Generator::single(GeneratorClass { output_tokens: Lengths::Fixed { tokens: 7 }, ..GeneratorClass::default() });
    let (a, b) = (base.generate(9), other_outputs.generate(9));
    assert_eq!(a.arrived_at, b.arrived_at);
    assert_eq!(a.prompt_tokens, b.prompt_tokens);
    assert!(b.output_tokens.iter().all(|&t| t == 7));
    assert_ne!(base.generate(9), base.generate(10));

    let chat = GeneratorClass { name: "chat".into(), ..GeneratorClass::default() };
    let batch = GeneratorClass {
        name: "batch".into(),
        arrivals: Arrivals::Constant { rate_per_s: 1.0 },
        num_requests: 300,
        prompt_tokens: Lengths::Fixed { tokens: 4_000 },
        output_tokens: Lengths::Fixed { tokens: 500 },
        sessions: None,
    };
    let mix = Generator { classes: vec![chat, batch] }.generate(9);
    assert_eq!(mix.num_requests(), 1_300);
    assert_eq!(mix.class_names, vec!["chat".to_owned(), "batch".to_owned()]);
    assert!(mix.arrived_at.windows(2).all(|pair| pair[0] <= pair[1]), "merged by arrival");
    let chat_rows: Vec<usize> = (0..mix.num_requests()).filter(|&row| mix.classes[row] == 0).collect();
    let chat_prompts: Vec<u32> = chat_rows.iter().map(|&row| mix.prompt_tokens[row]).collect();
    assert_eq!(chat_prompts, a.prompt_tokens, "the first class draws as if alone");
    let batch_times: Vec<f64> = (0..mix.num_requests())
        .filter(|&row| mix.classes[row] == 1)
        .map(|row| mix.arrived_at[row].as_secs_f64())
        .collect();
    assert_eq!(batch_times, (0..300).map(f64::from).collect::<Vec<_>>());
}

#[test]
fn closed_loop_clients_each_chain_their_requests() {
    let trace = Generator::single(class(Arrivals::ClosedLoop { concurrency: 3, think_time_s: 0.5 }, 10)).generate(4);
    // Rows 0-2 start at once; row i ≥ 3 follows row i − 3, 0.5 s after it ends.
    assert_eq!(trace.follows, vec![NO_ROW, NO_ROW, NO_ROW, 0, 1, 2, 3, 4, 5, 6]);
    assert!(trace.think_time[3..].iter().all(|&think| think == SimDuration::from_millis(500)));
    assert!(trace.arrived_at.iter().all(|&at| at == SimTime::ZERO));
    assert_eq!(trace.num_chained(), 7);
}

#[test]
fn sessions_grow_their_prompts_on_shared_prefixes_with_the_reuse_their_construction_implies() {
    // System prompt 128 tokens (2 blocks of 64); each turn adds a 64-token message after a
    // 64-token answer; 3 turns. Prompts: 192, 320, 448 tokens = 3, 5 and 7 full blocks.
    let sessions = Sessions { turns: Lengths::Fixed { tokens: 3 }, think_time_s: 2.0, system_prompt_tokens: 128 };
    let num_sessions = 50;
    let generator = Generator::single(GeneratorClass {
        arrivals: Arrivals::Poisson { rate_per_s: 1.0 },
        num_requests: 3 * num_sessions,
        prompt_tokens: Lengths::Fixed { tokens: 64 },
        output_tokens: Lengths::Fixed { tokens: 64 },
        sessions: Some(sessions),
        ..GeneratorClass::default()
    });
    let trace = generator.generate(5);
    assert_eq!(trace.hash_block_tokens, GENERATED_HASH_BLOCK_TOKENS);
    assert_eq!(trace.num_sessions(), num_sessions as usize);
    for row in 0..trace.num_requests() {
        let turn = (0..row).filter(|&other| trace.sessions[other] == trace.sessions[row]).count();
        assert_eq!(trace.prompt_tokens[row], [192, 320, 448][turn], "row {row}");
        assert_eq!(trace.block_hashes_of(row).len(), [3, 5, 7][turn]);
        assert_eq!(trace.is_chained(row), turn > 0);
        if turn > 0 {
            let previous = trace.follows[row] as usize;
            assert_eq!(trace.sessions[previous], trace.sessions[row]);
            // Each turn starts with the whole previous prompt's blocks.
            let before = trace.block_hashes_of(previous);
            assert_eq!(&trace.block_hashes_of(row)[..before.len()], before);
        }
    }
    // Per session 15 hashes; reused: 3 in turn 2 and 5 in turn 3, plus the 2 system blocks of
    // turn 1 in every session but the first.
    let expected = (10 * num_sessions - 2) as f64 / (15 * num_sessions) as f64;
    assert_eq!(TraceSummary::of(&trace).unwrap().ideal_block_reuse, Some(expected));
    // Think times are exponential with mean 2 s.
    let thinks: Vec<f64> =
        trace.think_time.iter().filter(|t| **t > SimDuration::ZERO).map(|t| t.as_secs_f64()).collect();
    assert_eq!(thinks.len(), 2 * num_sessions as usize);
    let mean = thinks.iter().sum::<f64>() / thinks.len() as f64;
    assert!((mean - 2.0).abs() < 0.6, "mean think {mean}");
}

#[test]
fn a_partial_last_block_is_never_shared() {
    let sessions = Sessions { turns: Lengths::Fixed { tokens: 2 }, think_time_s: 0.0, system_prompt_tokens: 100 };
    let trace = Generator::single(GeneratorClass {
        num_requests: 4,
        prompt_tokens: Lengths::Fixed { tokens: 10 },
        output_tokens: Lengths::Fixed { tokens: 10 },
        sessions: Some(sessions),
        ..GeneratorClass::default()
    })
    .generate(1);
    // Turn 1: 110 tokens = 1 full system block + a partial one; turn 2: 130 = 2 full + partial.
    let (first, second) = (trace.block_hashes_of(0), trace.block_hashes_of(1));
    assert_eq!((first.len(), second.len()), (2, 3));
    assert_eq!(first[0], second[0]);
    assert_ne!(first[1], second[1], "the partial block of turn 1 is not turn 2's full block");
    let other_session = trace.block_hashes_of(2);
    assert_eq!(other_session[0], first[0], "the system block is shared across sessions");
    assert_ne!(other_session[1], first[1]);
}

#[test]
fn json_has_a_one_class_form_and_a_classes_form() {
    let one: Generator = serde_json::from_str(r#"{"num_requests": 5}"#).unwrap();
    assert_eq!(one.classes.len(), 1);
    assert_eq!(one.classes[0].num_requests, 5);
    assert_eq!(serde_json::to_value(&one).unwrap()["num_requests"], 5);
    let two: Generator = serde_json::from_str(
        r#"{"classes": [{"name": "a", "num_requests": 5}, {"name": "b", "arrivals": {"constant": {"rate_per_s": 2}}}]}"#,
    )
    .unwrap();
    assert_eq!(two.classes[1].arrivals, Arrivals::Constant { rate_per_s: 2.0 });
    let back: Generator = serde_json::from_value(serde_json::to_value(&two).unwrap()).unwrap();
    assert_eq!(back, two);
    let both = serde_json::from_str::<Generator>(r#"{"num_requests": 5, "classes": []}"#).unwrap_err();
    assert!(both.to_string().starts_with("give either `classes` or one class's fields"), "{both}");
}

#[test]
fn a_session_that_outgrows_the_context_starts_anew() {
    // Each turn adds 400,000 tokens: turn 3 would need 1.2M > 2^20, so sessions hold 2 turns.
    let trace = Generator::single(GeneratorClass {
        num_requests: 6,
        prompt_tokens: Lengths::Fixed { tokens: 300_000 },
        output_tokens: Lengths::Fixed { tokens: 100_000 },
        sessions: Some(Sessions { turns: Lengths::Fixed { tokens: 5 }, think_time_s: 0.0, system_prompt_tokens: 0 }),
        ..GeneratorClass::default()
    })
    .generate(1);
    assert_eq!(trace.prompt_tokens, vec![300_000, 700_000, 300_000, 700_000, 300_000, 700_000]);
    assert_eq!(trace.num_sessions(), 3);
}
