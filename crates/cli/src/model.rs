//! `servesim model`: a model's sizes and step times on a GPU, and `servesim calibrate`: the
//! performance model fitted to a benchmark result.

use std::path::{Path, PathBuf};

use clap::Args;
use servesim_core::calibrate::{fit, parse_benchmark, FitReport, Metrics};
use servesim_core::perf::{catalog, Dtype, ModelSheet, ModelSpec, ReplicaConfig, SheetShape};
use servesim_core::scenario::ModelChoice;

use crate::{read_bytes, read_scenario, read_text};

/// What `servesim model` describes and on what.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// A model preset id (see --list) or the path of a Hugging Face config.json.
    #[arg(required_unless_present = "list")]
    model: Option<String>,
    /// List the model and GPU ids and exit.
    #[arg(long)]
    list: bool,
    /// GPU id.
    #[arg(long, default_value = "h100-sxm")]
    gpu: String,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// Pipeline-parallel degree.
    #[arg(long, default_value_t = 1)]
    pp: u32,
    /// Expert-parallel degree (MoE models; divides --tp).
    #[arg(long, default_value_t = 1)]
    ep: u32,
    /// Attention data-parallel over the TP GPUs (SGLang's --enable-dp-attention).
    #[arg(long)]
    dp_attention: bool,
    /// Weight format: bf16, fp8, fp4 or int4 (default: the config's own, BF16 when it states none).
    #[arg(long, value_parser = parse_dtype)]
    weights: Option<Dtype>,
    /// KV-cache format: bf16 or fp8.
    #[arg(long, default_value = "bf16", value_parser = parse_dtype)]
    kv: Dtype,
    /// Prompt tokens of the one request prefill_ms times.
    #[arg(long, default_value_t = SheetShape::default().isl)]
    isl: u32,
    /// Decoding sequences decode_step_ms times.
    #[arg(long, default_value_t = SheetShape::default().batch)]
    batch: u32,
    /// Context tokens of each decoding sequence.
    #[arg(long, default_value_t = SheetShape::default().context)]
    context: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_dtype(text: &str) -> Result<Dtype, String> {
    Dtype::from_name(text).ok_or_else(|| format!("expected bf16, fp8, fp4 or int4, got \"{text}\""))
}

/// Reads MODEL: a preset id, else a config.json path.
fn model_of(name: &str) -> Result<(ModelChoice, ModelSpec), String> {
    if catalog::model(name).is_some() {
        let choice = ModelChoice::preset(name);
        let spec = choice.spec()?;
        return Ok((choice, spec));
    }
    let path = Path::new(name);
    if !path.exists() {
        return Err(format!("unknown model \"{name}\" (not a preset, nor a file); known: {}", catalog::model_ids()));
    }
    let text = read_text(path)?;
    let spec = ModelSpec::from_hf_config(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let config = serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok((ModelChoice { preset: None, config: Some(config), ..ModelChoice::default() }, spec))
}

/// Prints a model's sheet; an invalid combination is an error, a model that does not fit is not.
pub fn model(args: &ModelArgs) -> Result<(), String> {
    if args.list {
        println!("models:");
        for preset in catalog::MODELS {
            println!("  {:<18} {}", preset.id, preset.name);
        }
        println!("gpus:");
        for gpu in catalog::gpus() {
            println!("  {:<18} {}", gpu.id, gpu.spec.name);
        }
        return Ok(());
    }
    let (choice, spec) = model_of(args.model.as_deref().expect("clap requires MODEL without --list"))?;
    let gpu = catalog::gpu(&args.gpu)
        .ok_or_else(|| format!("unknown GPU \"{}\"; known: {}", args.gpu, catalog::gpu_ids()))?;
    let choice = ModelChoice { weights: args.weights, kv_cache: args.kv, ..choice };
    let config = ReplicaConfig {
        tp: args.tp,
        pp: args.pp,
        ep: args.ep,
        dp_attention: args.dp_attention,
        weights: choice.weights_for(&spec, gpu),
        kv_cache: args.kv,
        ..ReplicaConfig::default()
    };
    for (flag, value) in [("--tp", args.tp), ("--pp", args.pp), ("--ep", args.ep)] {
        if value == 0 {
            return Err(format!("{flag} must be ≥ 1"));
        }
    }
    let shape = SheetShape { isl: args.isl, batch: args.batch, context: args.context };
    let sheet = ModelSheet::new(&spec, gpu, config, shape).map_err(|error| {
        let flag = match error.path {
            "model.weights" => "--weights",
            "model.kv_cache" => "--kv",
            "deployment.aggregated.ep" | "deployment.aggregated.redundant_experts" => "--ep",
            "deployment.aggregated.pp" => "--pp",
            "hardware.gpu" => "--gpu",
            _ => "--tp",
        };
        format!("{flag}: {}", error.message)
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&sheet).expect("a sheet serialises"));
        return Ok(());
    }
    let gb = |bytes: u64| format!("{:.2} GB", bytes as f64 / 1e9);
    println!(
        "model                 {} on {} × {} (tp {}, pp {}, ep {})",
        choice.label(),
        sheet.gpus_per_replica,
        args.gpu,
        args.tp,
        args.pp,
        args.ep
    );
    println!("params_total          {}", sheet.params_total);
    println!("params_active         {}", sheet.params_active);
    println!("params_mtp            {}", sheet.params_mtp);
    println!("weights / kv          {} / {}", sheet.weights, sheet.kv_cache);
    println!("weight_bytes_per_gpu  {} ({})", sheet.weight_bytes_per_gpu, gb(sheet.weight_bytes_per_gpu));
    println!("kv_bytes_per_token    {}", sheet.kv_bytes_per_token);
    if sheet.kv_window_bytes_per_sequence > 0 {
        println!("kv_window_bytes/seq   {}", sheet.kv_window_bytes_per_sequence);
    }
    println!("kv_capacity_tokens    {}", sheet.kv_capacity_tokens);
    let ms = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.3}"));
    println!("prefill_ms            {} (one request of {} tokens)", ms(sheet.prefill_ms), args.isl);
    println!(
        "decode_step_ms        {} ({} sequences at {} tokens)",
        ms(sheet.decode_step_ms),
        args.batch,
        args.context
    );
    println!("fits                  {}", sheet.fits);
    if let Some(why) = &sheet.why {
        println!("why                   {why}");
    }
    Ok(())
}

/// What `servesim calibrate` fits and where the result goes.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// The scenario whose deployment (model, GPU, parallelism, engine) ran the benchmark.
    scenario: PathBuf,
    /// The benchmark result: `vllm bench serve --save-result` JSON, SGLang bench_serving
    /// JSONL, or a CSV of isl, osl, concurrency or rate, ttft_ms, tpot_ms, throughput.
    benchmark: PathBuf,
    /// Write the scenario with the fitted calibration to this file.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Print the fit as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Fits the scenario's performance model to a benchmark and prints the error per row.
pub fn calibrate(args: &CalibrateArgs) -> Result<(), String> {
    let scenario = read_scenario(&args.scenario)?;
    let rows = parse_benchmark(&read_bytes(&args.benchmark)?)
        .map_err(|error| format!("{}: {error}", args.benchmark.display()))?;
    let report = fit(&scenario, &rows).map_err(|error| format!("{}: {error}", args.benchmark.display()))?;
    if let Some(path) = &args.write {
        let name = args.benchmark.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let calibrated = servesim_core::scenario::Scenario { calibration: Some(report.calibration(&name)), ..scenario };
        std::fs::write(path, calibrated.to_canonical_json()).map_err(|error| format!("{}: {error}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a fit serialises"));
    } else {
        print_fit(&report);
    }
    Ok(())
}

fn print_fit(report: &FitReport) {
    let cell = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let row = |label: &str, m: Metrics| {
        format!("{label:<8} {:>10} {:>10} {:>12}", cell(m.ttft_ms), cell(m.tpot_ms), cell(m.output_throughput))
    };
    for fit in &report.rows {
        println!("{}", fit.label);
        println!("  {:<8} {:>10} {:>10} {:>12}", "", "TTFT ms", "TPOT ms", "output tok/s");
        println!("  {}", row("measured", fit.measured));
        println!("  {}", row("before", fit.before));
        println!("  {}", row("after", fit.after));
    }
    println!("mean error  {:.1} % before, {:.1} % after", report.error_before_pct, report.error_after_pct);
    let factors = report.factors;
    println!(
        "factors     compute {:.3}, memory {:.3}, overhead {:.3}",
        factors.compute, factors.memory, factors.overhead
    );
}
