//! The seller's bid book: one live bid per buyer connection (unit demand, as in Speed's
//! design), with the order bids arrived in for tie-breaks.

use std::collections::HashMap;

use crate::wallet::{Amount, ChannelCertificate, PublicKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    /// Micro-tokens per MiB offered.
    pub price: Amount,
    pub max_spend: Amount,
    pub cert: ChannelCertificate,
    pub buyer: PublicKey,
    /// Arrival order: among equal prices the earlier bid wins (first come, first served).
    pub seq: u64,
}

#[derive(Debug, Default)]
pub struct BidBook {
    bids: HashMap<usize, Bid>,
    next_seq: u64,
}

impl BidBook {
    /// Places or replaces a peer's bid. A replacement that keeps the price keeps its place in
    /// the queue, so re-sending a bid never loses a tie.
    pub fn place(
        &mut self,
        key: usize,
        price: Amount,
        max_spend: Amount,
        cert: ChannelCertificate,
    ) {
        let seq = match self.bids.get(&key) {
            Some(b) if b.price == price => b.seq,
            _ => {
                self.next_seq += 1;
                self.next_seq
            }
        };
        let buyer = cert.buyer;
        self.bids.insert(
            key,
            Bid {
                price,
                max_spend,
                cert,
                buyer,
                seq,
            },
        );
    }

    pub fn withdraw(&mut self, key: usize) -> Option<Bid> {
        self.bids.remove(&key)
    }

    pub fn get(&self, key: usize) -> Option<&Bid> {
        self.bids.get(&key)
    }

    pub fn len(&self) -> usize {
        self.bids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty()
    }

    /// Bids best first: price descending, then arrival.
    pub fn ranked(&self) -> Vec<(usize, &Bid)> {
        let mut v: Vec<(usize, &Bid)> = self.bids.iter().map(|(k, b)| (*k, b)).collect();
        v.sort_by(|a, b| b.1.price.cmp(&a.1.price).then(a.1.seq.cmp(&b.1.seq)));
        v
    }
}
