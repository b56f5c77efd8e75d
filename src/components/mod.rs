//! The page's components, one concept each. They read and change [`crate::AppState`] (from
//! context) and never compute on results themselves.

mod chart_canvas;
mod deployment_panel;
mod engine_panel;
mod examples;
mod explorer;
pub mod fields;
mod file_drop;
mod header;
mod kpis;
mod model_panel;
mod pd_view;
mod replicas;
mod router_comparison;
mod router_panel;
mod run_panel;
mod scenario_form;
mod stages;
mod traffic_panel;
mod workload_panel;

pub use chart_canvas::ChartPanel;
pub use examples::ExampleGallery;
pub use explorer::TraceExplorer;
pub use header::Header;
pub use kpis::Kpis;
pub use model_panel::ModelPanel;
pub use pd_view::PdView;
pub use replicas::ReplicaTable;
pub use router_comparison::RouterComparisonPanel;
pub use run_panel::RunPanel;
pub use scenario_form::ScenarioForm;
pub use stages::StageTable;
pub use traffic_panel::TrafficPanel;
pub use workload_panel::WorkloadPanel;
