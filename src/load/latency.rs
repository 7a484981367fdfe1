//! Latency distributions: HdrHistograms in microseconds (3 significant digits), never a list of samples, so
//! memory stays bounded and nothing is dropped. In JSON a histogram is written in HdrHistogram's V2 format
//! (deflated, base64: the `HISTFAAA...` strings other HdrHistogram tools read), with a plain summary beside it for
//! people. Histograms of the same layout add exactly, so runs made on different machines merge after the fact.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// A latency distribution in microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency(pub Histogram<u64>);

/// Highest latency recorded exactly: one hour, in microseconds. Longer ones are recorded as one hour.
const MAX_US: u64 = 3_600_000_000;

impl Default for Latency {
    fn default() -> Latency {
        Latency(Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds"))
    }
}

impl Latency {
    /// Records one latency (never dropped: beyond the range it is clamped).
    #[inline]
    pub fn record(&mut self, micros: u64) {
        self.0.saturating_record(micros.min(MAX_US));
    }

    pub fn add(&mut self, other: &Latency) {
        // Same bounds everywhere, so this cannot fail; auto-resize covers histograms read from elsewhere.
        self.0.auto(true);
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// HdrHistogram V2, deflated, base64.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut bytes)
            .expect("serializing to memory cannot fail");
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<Latency, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| format!("histogram is not HdrHistogram V2: {e:?}"))?;
        Ok(Latency(h))
    }
}

/// A histogram's headline numbers, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    /// Standard deviation (as wrk gives it); absent from files written before it was added.
    #[serde(default)]
    pub stdev: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

#[derive(Serialize, Deserialize)]
struct LatencyJson {
    unit: String,
    summary: LatencySummary,
    /// HdrHistogram V2 deflate, base64.
    hdr_histogram: String,
}

impl Serialize for Latency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LatencyJson {
            unit: "us".into(),
            summary: self.summary(),
            hdr_histogram: self.encode(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Latency, D::Error> {
        let json = LatencyJson::deserialize(d)?;
        if json.unit != "us" {
            return Err(serde::de::Error::custom("histogram unit must be us"));
        }
        Latency::decode(&json.hdr_histogram).map_err(serde::de::Error::custom)
    }
}
