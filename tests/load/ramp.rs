//! A run with many clients measures from when every client has been served once, not from a fixed warm-up
//! that the ramp of connections outlasts.

use std::time::Duration;

use crate::load_support::{config, our_server, run};
use serverlab::models::Model;
use serverlab::protocol::Proto;

#[test]
fn measuring_waits_for_every_client_to_be_served_once() {
    let server = our_server(Proto::Echo, Model::Poll);
    let mut c = config(Proto::Echo, server.addr(), 300);
    // Connections open one at a time: the ramp outlasts the 10 ms warm-up.
    c.connect_batch = 1;
    c.warmup = Duration::from_millis(10);
    c.duration = Some(Duration::from_millis(500));
    c.ramp_limit = Some(Duration::from_secs(10));
    let r = run(&c);
    let served = r.all_served_ms.expect("every client was served once");
    assert!(
        served > 10.0,
        "the ramp ({served} ms) outlasted the warm-up, or this proves nothing"
    );
    let t = &r.timeline;
    assert!(
        t.measured_from_ms as f64 + 1.0 >= served,
        "measuring started at {} ms, before every client was served ({served} ms)",
        t.measured_from_ms
    );
    assert!(t.measured_from_ms >= 10, "not before the warm-up");
    // The ramp is in the timeline, before the measured window: the connections opened then.
    let ramp_open = t
        .buckets
        .iter()
        .filter(|b| b.start_ms < t.measured_from_ms)
        .map(|b| b.open)
        .max();
    assert_eq!(ramp_open, Some(300), "{t:?}");
    assert_eq!(t.buckets.iter().map(|b| b.ok).sum::<u64>(), r.successes);
    // Every client is measured in its steady state: each did at least one counted exchange.
    assert!(
        r.per_client.iter().all(|c| c.ok > 0),
        "a client was starved"
    );
}
