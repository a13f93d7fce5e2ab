//! Where the CDN's machines are, and how long light takes between them.
//!
//! Six regions stand for the continents a global CDN serves; each has coordinates (a large
//! city of the region). The round-trip time between two regions is what light in optical
//! fibre needs to go there and back along the great circle, stretched by a factor for real
//! routes, plus a fixed in-region cost for the last mile and the metro network:
//!
//! `rtt = IN_REGION_RTT_MS + 2 * distance * ROUTE_STRETCH / FIBRE_KM_PER_MS`
//!
//! Light in glass travels at about c / 1.47 ≈ 204,000 km/s, so [`FIBRE_KM_PER_MS`] is a fact
//! of physics (rounded down); [`ROUTE_STRETCH`] and [`IN_REGION_RTT_MS`] are *our
//! assumptions*, chosen to give round-trip times of the order one sees between these cities
//! (tens of milliseconds across an ocean, a few hundred to the antipodes). Real paths vary with
//! routing policy, which is the point of the chapter's section on overlay networks.

/// A region of the world with the point where its machines stand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// A short name for tables.
    pub name: &'static str,
    /// Latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
}

// ANCHOR: regions
/// The book's regions; index 0 (North America East) hosts the origin and the shield.
#[rustfmt::skip]
pub const REGIONS: [Region; 6] = [
    Region { name: "us-east", lat: 38.9, lon: -77.0 },      // Washington
    Region { name: "us-west", lat: 37.8, lon: -122.4 },     // San Francisco
    Region { name: "europe", lat: 50.1, lon: 8.7 },         // Frankfurt
    Region { name: "s-america", lat: -23.5, lon: -46.6 },   // São Paulo
    Region { name: "asia", lat: 35.7, lon: 139.7 },         // Tokyo
    Region { name: "oceania", lat: -33.9, lon: 151.2 },     // Sydney
];

/// Light in optical fibre, in kilometres per millisecond (c / 1.47, rounded down).
pub const FIBRE_KM_PER_MS: f64 = 200.0;
/// How much longer a real route is than the great circle (our assumption).
pub const ROUTE_STRETCH: f64 = 1.3;
/// The round trip inside one region: last mile and metro network (our assumption).
pub const IN_REGION_RTT_MS: f64 = 10.0;

/// Round-trip time between regions `a` and `b`, in milliseconds.
pub fn rtt_ms(a: usize, b: usize) -> f64 {
    let km = distance_km(&REGIONS[a], &REGIONS[b]);
    IN_REGION_RTT_MS + 2.0 * km * ROUTE_STRETCH / FIBRE_KM_PER_MS
}
// ANCHOR_END: regions

/// Great-circle distance in kilometres (the haversine formula, mean Earth radius 6,371 km).
pub fn distance_km(a: &Region, b: &Region) -> f64 {
    let (la, lb) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lb - la;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la.cos() * lb.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371.0 * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_is_symmetric_and_grows_with_distance() {
        for a in 0..REGIONS.len() {
            assert_eq!(rtt_ms(a, a), IN_REGION_RTT_MS);
            for b in 0..REGIONS.len() {
                assert!((rtt_ms(a, b) - rtt_ms(b, a)).abs() < 1e-9);
            }
        }
        // Washington to Frankfurt is about 6,500 km; to Sydney about 15,700 km.
        let atlantic = distance_km(&REGIONS[0], &REGIONS[2]);
        let antipodes = distance_km(&REGIONS[0], &REGIONS[5]);
        assert!((6_300.0..6_700.0).contains(&atlantic), "{atlantic}");
        assert!((15_400.0..16_000.0).contains(&antipodes), "{antipodes}");
        assert!(rtt_ms(0, 2) < rtt_ms(0, 5));
    }
}
