//! The load generator against our own servers (in-process, port 0): every protocol, closed and open loop.

use std::time::Duration;

use crate::load_support::{assert_consistent, config, our_server, run};
use serverlab::load::Payload;
use serverlab::models::Model;
use serverlab::protocol::Proto;

const PROTOS: [Proto; 4] = [Proto::Echo, Proto::Daytime, Proto::Http, Proto::UdpEcho];

#[test]
fn every_protocol_closed_loop_counts_add_up() {
    for proto in PROTOS {
        let server = our_server(proto, Model::Threads);
        let mut c = config(proto, server.addr(), 4);
        c.requests = Some(300);
        let r = run(&c);
        assert_consistent(&r);
        assert_eq!(r.requests, 300, "{proto}: {r:#?}");
        assert_eq!(r.successes, 300, "{proto}: {:?}", r.error_examples);
        assert_eq!(r.per_client.len(), 4);
        assert!(r.bytes_received > 0 && r.duration_us > 0);
        assert!(
            r.cpu.total() > Duration::ZERO,
            "the generator's CPU is measured"
        );
        let report = server.stop().unwrap();
        assert!(
            report.counters.requests >= 300,
            "{proto}: the server saw them"
        );
    }
}

#[test]
fn every_protocol_open_loop_keeps_its_timetable() {
    for proto in PROTOS {
        let server = our_server(proto, Model::Threads);
        let mut c = config(proto, server.addr(), 4);
        c.rate = Some(400.0);
        c.duration = Some(Duration::from_millis(500));
        let r = run(&c);
        assert_consistent(&r);
        // 200 sends are due in 0.5 s. A busy machine may miss some, and says so (the timetable's slots are
        // sent or missed, exactly); sending fewer than half would be the generator's fault, not the machine's.
        // The ones still in flight at the end are unfinished, not lost.
        assert!((100..=201).contains(&r.sent), "{proto}: sent {}", r.sent);
        assert!(
            (200..=202).contains(&(r.sent + r.missed_sends)),
            "{proto}: sent {} + missed {}",
            r.sent,
            r.missed_sends
        );
        assert_eq!(
            r.sent,
            r.requests + r.unfinished.len() as u64,
            "{proto}: every send is finished or unfinished"
        );
        assert_eq!(r.errors.total(), 0, "{proto}: {:?}", r.error_examples);
        assert_eq!(r.target_rate, Some(400.0));
    }
}

#[test]
fn open_loop_with_a_request_budget_sends_exactly_that() {
    let server = our_server(Proto::Echo, Model::Threads);
    let mut c = config(Proto::Echo, server.addr(), 3);
    c.rate = Some(1000.0);
    c.requests = Some(150);
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!((r.sent, r.successes), (150, 150));
    assert!(
        r.duration() >= Duration::from_millis(140),
        "{:?}",
        r.duration()
    );
}

#[test]
fn connect_per_request_opens_a_connection_each_time() {
    for proto in [Proto::Echo, Proto::Http] {
        let server = our_server(proto, Model::Threads);
        let mut c = config(proto, server.addr(), 5);
        c.requests = Some(200);
        c.connect_per_request = true;
        let r = run(&c);
        assert_consistent(&r);
        assert_eq!(r.successes, 200, "{proto}: {:?}", r.error_examples);
        assert_eq!(r.connections, 200, "{proto}");
        let report = server.stop().unwrap();
        assert_eq!(report.counters.connections, 200, "{proto}");
    }
}

#[test]
fn keep_alive_uses_one_connection_per_client() {
    let server = our_server(Proto::Http, Model::Threads);
    let mut c = config(Proto::Http, server.addr(), 4);
    c.requests = Some(400);
    let r = run(&c);
    assert_eq!(r.successes, 400);
    assert_eq!(r.connections, 4);
}

#[test]
fn echo_payloads_of_any_size_come_back_whole() {
    let server = our_server(Proto::Echo, Model::Pool);
    for payload in [
        Payload::Size(1),
        Payload::Size(50_000),
        Payload::Message("Ola mundo da internet!".into()),
    ] {
        let mut c = config(Proto::Echo, server.addr(), 2);
        c.requests = Some(40);
        c.payload = payload.clone();
        let r = run(&c);
        assert_eq!(r.successes, 40, "{payload:?}: {:?}", r.error_examples);
    }
}

#[test]
fn a_sequential_server_shows_up_in_fairness_and_the_experiment_gets_its_minimum() {
    // Keep-alive clients of a sequential server: the first one in is served to the end, the others wait.
    let server = our_server(Proto::Echo, Model::Sequential);
    let mut c = config(Proto::Echo, server.addr(), 3);
    c.duration = Some(Duration::from_millis(300));
    let r = run(&c);
    assert_consistent(&r);
    let (fewest, most) = r.fairness().unwrap();
    assert_eq!(fewest, 0, "{:?}", r.per_client);
    assert!(most > 10);
    assert!(
        !r.unfinished.is_empty(),
        "the waiting clients are unfinished"
    );
    drop(server);

    // The experiment's cell: connect per request, run at least until every client finished 2 requests.
    let server = our_server(Proto::Echo, Model::Sequential);
    let mut c = config(Proto::Echo, server.addr(), 5);
    c.connect_per_request = true;
    c.duration = Some(Duration::from_millis(50));
    c.min_per_client = 2;
    c.max_duration = Some(Duration::from_secs(4));
    let r = run(&c);
    assert!(
        r.per_client.iter().all(|c| c.ok + c.errors >= 2),
        "{:?}",
        r.per_client
    );
}

#[test]
fn warmup_is_not_counted() {
    let server = our_server(Proto::Echo, Model::Threads);
    let mut c = config(Proto::Echo, server.addr(), 2);
    c.warmup = Duration::from_millis(200);
    c.requests = Some(50);
    let r = run(&c);
    assert_eq!(r.requests, 50);
    let report = server.stop().unwrap();
    assert!(
        report.counters.requests > 50,
        "the warm-up sent requests too"
    );
}

#[test]
fn a_stop_request_ends_the_run_with_a_report() {
    let server = our_server(Proto::Echo, Model::Threads);
    let mut c = config(Proto::Echo, server.addr(), 2);
    c.duration = Some(Duration::from_secs(30));
    c.max_duration = None;
    let control = serverlab::load::Control::new();
    let started = std::time::Instant::now();
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            control.stop();
        });
        serverlab::load::run(&c, &control).unwrap()
    });
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(report.stopped_early);
    assert!(report.successes > 0);
    assert!(control.completed() >= report.requests);
}

#[test]
fn hundreds_of_clients_connect_in_batches_and_all_get_served() {
    let server = our_server(Proto::Http, Model::Threads);
    let mut c = config(Proto::Http, server.addr(), 300);
    c.requests = Some(3000);
    c.connect_batch = 32;
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 3000, "{:?}", r.error_examples);
    assert_eq!(r.connections, 300);
    assert_eq!(r.per_client.len(), 300);
    let report = server.stop().unwrap();
    assert_eq!(report.counters.connections, 300, "{report:?}");
}

#[test]
fn a_client_with_nothing_left_to_send_hangs_up() {
    // A sequential server serves one connection to its end: a client that is done must close, or the clients
    // queued behind it (here in another thread, with requests of their own left) would wait for nothing.
    let server = our_server(Proto::Echo, Model::Sequential);
    let mut c = config(Proto::Echo, server.addr(), 4);
    c.requests = Some(40);
    c.timeout = Duration::from_secs(3);
    let started = std::time::Instant::now();
    let r = run(&c);
    assert_consistent(&r);
    assert_eq!(r.successes, 40, "{:?}", r.error_examples);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
