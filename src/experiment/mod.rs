//! `serverlab experiment`: the classroom experiment as one command — every model, hit by growing numbers of
//! clients, for I/O-bound and CPU-bound work — measured, predicted, explained and drawn.

pub mod analysis;
pub mod catalog;
pub mod classroom;
pub mod external;
pub mod predict;
pub mod report;
pub mod results;
pub mod run;
pub mod sampler;
pub mod subject;
pub mod yardsticks;
