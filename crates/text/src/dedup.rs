//! Duplicate and repeat detection (重复信访, 一信多投, 群体联名): an exact fingerprint plus MinHash
//! with LSH banding over character shingles of the matching key ([`crate::normalize::match_key`]).
//!
//! Memory layout, chosen to stay under about 200 bytes per indexed petition at a million
//! petitions: per document a 64-bit fingerprint, a 4-bit ("b-bit") MinHash sketch of
//! [`NUM_HASHES`] values (64 bytes) for verification, the shingle count, two 32-bit hashes of
//! petitioner and addressee; and per band one 8-byte slot (`u32` band key, `u32` document id) in a
//! flat open-addressing table. Full-width MinHash values are used only to form band keys and are
//! not stored.

use serde::{Deserialize, Serialize};

use crate::TextError;
use crate::hash::{hash_chars, hash_str, mix64};
use crate::normalize::match_key;

/// MinHash values per signature (one-permutation hashing into this many bins).
pub const NUM_HASHES: usize = 128;
/// Characters per shingle.
pub const SHINGLE: usize = 3;
/// Bytes of the stored 4-bit sketch.
const SKETCH_BYTES: usize = NUM_HASHES / 2;
const NS_SHINGLE: u8 = b's';
const EMPTY_SLOT: u64 = u64::MAX;

/// A MinHash signature of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The MinHash values (densified one-permutation hashing).
    pub mins: [u32; NUM_HASHES],
    /// Number of distinct shingles (saturating at `u16::MAX`).
    pub shingles: u16,
    /// Exact fingerprint: a 64-bit hash of the matching key.
    pub fingerprint: u64,
}

impl Signature {
    /// Signature of raw petition text (normalised inside).
    pub fn of_text(text: &str) -> Self {
        Self::of_match_key(&match_key(text))
    }

    /// Signature of a matching key.
    pub fn of_match_key(key: &str) -> Self {
        let chars: Vec<char> = key.chars().collect();
        let fingerprint = hash_chars(b'f', &chars);
        let mut hashes: Vec<u64> = if chars.is_empty() {
            Vec::new()
        } else if chars.len() < SHINGLE {
            vec![hash_chars(NS_SHINGLE, &chars)]
        } else {
            chars
                .windows(SHINGLE)
                .map(|w| hash_chars(NS_SHINGLE, w))
                .collect()
        };
        hashes.sort_unstable();
        hashes.dedup();
        let mut mins = [u32::MAX; NUM_HASHES];
        let mut filled = [false; NUM_HASHES];
        for h in &hashes {
            let bin = (*h % NUM_HASHES as u64) as usize;
            let v = (*h >> 32) as u32;
            if v <= mins[bin] {
                mins[bin] = v;
                filled[bin] = true;
            }
        }
        // Densification (Shrivastava 2017): an empty bin borrows the value of a non-empty bin chosen by
        // a bin-specific probe sequence, so that two similar texts borrow alike.
        if !hashes.is_empty() {
            let orig = mins;
            for i in 0..NUM_HASHES {
                if filled[i] {
                    continue;
                }
                let mut attempt = 0u64;
                loop {
                    let j = (mix64(((i as u64) << 32) | attempt) % NUM_HASHES as u64) as usize;
                    if filled[j] {
                        mins[i] = mix64(u64::from(orig[j]) ^ ((i as u64) << 40)) as u32;
                        break;
                    }
                    attempt += 1;
                    if attempt > 10_000 {
                        break;
                    }
                }
            }
        }
        Self {
            mins,
            shingles: u16::try_from(hashes.len()).unwrap_or(u16::MAX),
            fingerprint,
        }
    }

    /// True when the text had nothing to compare (empty matching key).
    pub fn is_empty(&self) -> bool {
        self.shingles == 0
    }

    fn sketch(&self) -> [u8; SKETCH_BYTES] {
        let mut out = [0u8; SKETCH_BYTES];
        for (i, b) in out.iter_mut().enumerate() {
            let lo = mix64(u64::from(self.mins[2 * i])) as u8 & 0x0F;
            let hi = mix64(u64::from(self.mins[2 * i + 1])) as u8 & 0x0F;
            *b = lo | (hi << 4);
        }
        out
    }

    /// Estimated Jaccard similarity of two full signatures.
    pub fn jaccard(&self, other: &Self) -> f32 {
        if self.is_empty() || other.is_empty() {
            return 0.0;
        }
        let same = self
            .mins
            .iter()
            .zip(&other.mins)
            .filter(|(a, b)| a == b)
            .count();
        same as f32 / NUM_HASHES as f32
    }
}

/// Estimated Jaccard similarity from two 4-bit sketches (b-bit MinHash, Li & König 2010).
fn sketch_jaccard(a: &[u8; SKETCH_BYTES], b: &[u8; SKETCH_BYTES]) -> f32 {
    let mut same = 0u32;
    for (x, y) in a.iter().zip(b) {
        let d = x ^ y;
        same += u32::from(d & 0x0F == 0) + u32::from(d & 0xF0 == 0);
    }
    let p = same as f32 / NUM_HASHES as f32;
    let c = 1.0 / 16.0;
    ((p - c) / (1.0 - c)).clamp(0.0, 1.0)
}

/// Index settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexConfig {
    /// LSH bands (each adds one table slot per document).
    pub bands: usize,
    /// MinHash rows per band.
    pub rows: usize,
    /// Estimated Jaccard at or above which two texts are near copies.
    pub near_jaccard: f32,
    /// Containment (share of the shorter text found in the longer) at or above which two texts are
    /// near copies even with a lower Jaccard (a letter with parts cut)…
    pub near_containment: f32,
    /// …provided the Jaccard is at least this.
    pub containment_min_jaccard: f32,
    /// Estimated Jaccard from which a non-copy is reported as the same issue (同一事项).
    pub same_issue_jaccard: f32,
    /// Distinct petitioners (including the new one) from which near copies are a possible group.
    pub group_min_petitioners: usize,
    /// Most matches returned by a query.
    pub max_matches: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            bands: 12,
            rows: 3,
            near_jaccard: 0.45,
            near_containment: 0.75,
            containment_min_jaccard: 0.25,
            same_issue_jaccard: 0.2,
            group_min_petitioners: 2,
            max_matches: 20,
        }
    }
}

/// Who sent a petition and to whom; hashed to 32 bits when indexed. `None` = unknown.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DocMeta {
    /// Petitioner (信访人) identity: account, ID-card hash, phone hash, …
    pub petitioner: Option<String>,
    /// The organ the petition is addressed to (for 一信多投).
    pub addressee: Option<String>,
}

fn meta_hash(s: &Option<String>) -> u32 {
    match s {
        Some(v) if !v.is_empty() => (hash_str(b'm', v) as u32).max(1),
        _ => 0,
    }
}

/// Index-internal document id, returned by [`DupIndex::insert`]; the caller keeps the mapping to
/// its case id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocId(pub u32);

/// How a new petition relates to what is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchKind {
    /// Same petitioner, near-identical text (重复信访): follow the existing case.
    Repeat,
    /// Same petitioner and text, another addressee (一信多投): merge (并单).
    MultiAddressed,
    /// Different petitioners, near-identical text: possibly an organised group petition.
    PossibleGroup,
    /// Same issue, different text: related, not a copy.
    SameIssue,
    /// Nothing related.
    New,
}

/// One indexed document related to the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The indexed document.
    pub doc: DocId,
    /// Estimated Jaccard similarity of the shingle sets.
    pub jaccard: f32,
    /// Estimated share of the shorter text's shingles found in the longer one.
    pub containment: f32,
    /// Identical matching key (fingerprint match).
    pub exact: bool,
    /// Counted as a near copy.
    pub near_copy: bool,
    /// Same petitioner (`None` when either side is unknown).
    pub same_petitioner: Option<bool>,
    /// Same addressee (`None` when either side is unknown).
    pub same_addressee: Option<bool>,
}

/// The answer to a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The classification of the new petition.
    pub kind: MatchKind,
    /// Related documents, best first.
    pub matches: Vec<Match>,
}

/// Flat open-addressing multimap from a 32-bit band key to document ids (8 bytes per slot).
#[derive(Debug, Clone, Default)]
struct BandTable {
    slots: Vec<u64>,
    len: usize,
}

impl BandTable {
    const MAX_LOAD: f64 = 0.9;

    fn with_capacity(entries: usize) -> Self {
        let cap = ((entries as f64 / 0.85) as usize).max(16);
        Self {
            slots: vec![EMPTY_SLOT; cap],
            len: 0,
        }
    }

    #[inline]
    fn home(&self, key: u32) -> usize {
        ((u64::from(key) * self.slots.len() as u64) >> 32) as usize
    }

    fn insert(&mut self, key: u32, doc: u32) {
        if self.slots.is_empty() || (self.len + 1) as f64 > self.slots.len() as f64 * Self::MAX_LOAD
        {
            self.grow();
        }
        let n = self.slots.len();
        let mut i = self.home(key);
        while self.slots[i] != EMPTY_SLOT {
            i += 1;
            if i == n {
                i = 0;
            }
        }
        self.slots[i] = (u64::from(key) << 32) | u64::from(doc);
        self.len += 1;
    }

    fn grow(&mut self) {
        let new_cap = (self.slots.len() * 3 / 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; new_cap]);
        self.len = 0;
        for s in old.into_iter().filter(|s| *s != EMPTY_SLOT) {
            self.insert((s >> 32) as u32, s as u32);
        }
    }

    fn for_each(&self, key: u32, mut f: impl FnMut(u32)) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let mut i = self.home(key);
        loop {
            let s = self.slots[i];
            if s == EMPTY_SLOT {
                return;
            }
            if (s >> 32) as u32 == key {
                f(s as u32);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    fn remove(&mut self, key: u32, doc: u32) -> bool {
        let n = self.slots.len();
        if n == 0 {
            return false;
        }
        let target = (u64::from(key) << 32) | u64::from(doc);
        let mut i = self.home(key);
        loop {
            let s = self.slots[i];
            if s == EMPTY_SLOT {
                return false;
            }
            if s == target {
                break;
            }
            i = (i + 1) % n;
        }
        // backward-shift deletion keeps every probe sequence unbroken
        let mut hole = i;
        let mut j = (i + 1) % n;
        loop {
            let s = self.slots[j];
            if s == EMPTY_SLOT {
                break;
            }
            let h = self.home((s >> 32) as u32);
            let dist_j = (j + n - h) % n;
            let dist_hole = (j + n - hole) % n;
            if dist_j >= dist_hole {
                self.slots[hole] = s;
                hole = j;
            }
            j = (j + 1) % n;
        }
        self.slots[hole] = EMPTY_SLOT;
        self.len -= 1;
        true
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// The near-duplicate index. Insert, remove and query are `O(bands + candidates)`.
#[derive(Debug, Clone)]
pub struct DupIndex {
    config: IndexConfig,
    fingerprints: Vec<u64>,
    sketches: Vec<[u8; SKETCH_BYTES]>,
    sizes: Vec<u16>,
    petitioners: Vec<u32>,
    addressees: Vec<u32>,
    /// One bit per document: indexed and not removed.
    alive: Vec<u64>,
    free: Vec<u32>,
    live: usize,
    table: BandTable,
}

impl Default for DupIndex {
    fn default() -> Self {
        Self::new(IndexConfig::default())
    }
}

impl DupIndex {
    /// An empty index.
    pub fn new(config: IndexConfig) -> Self {
        Self::with_capacity(config, 0)
    }

    /// An empty index sized for `docs` documents (avoids regrowing the band table).
    pub fn with_capacity(mut config: IndexConfig, docs: usize) -> Self {
        config.rows = config.rows.clamp(1, NUM_HASHES);
        config.bands = config.bands.clamp(1, NUM_HASHES / config.rows);
        let table = BandTable::with_capacity(docs * config.bands);
        Self {
            config,
            fingerprints: Vec::with_capacity(docs),
            sketches: Vec::with_capacity(docs),
            sizes: Vec::with_capacity(docs),
            petitioners: Vec::with_capacity(docs),
            addressees: Vec::with_capacity(docs),
            alive: Vec::with_capacity(docs / 64 + 1),
            free: Vec::new(),
            live: 0,
            table,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// Number of indexed (live) documents.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes allocated by the index (capacities of all its vectors).
    pub fn memory_bytes(&self) -> usize {
        self.fingerprints.capacity() * 8
            + self.sketches.capacity() * SKETCH_BYTES
            + self.sizes.capacity() * 2
            + self.petitioners.capacity() * 4
            + self.addressees.capacity() * 4
            + self.alive.capacity() * 8
            + self.free.capacity() * 4
            + self.table.bytes()
    }

    fn band_keys(&self, sig: &Signature) -> impl Iterator<Item = u32> + '_ {
        let rows = self.config.rows;
        let mins = sig.mins;
        (0..self.config.bands).map(move |b| {
            let mut h = mix64(b as u64 + 0x5151);
            for v in &mins[b * rows..(b + 1) * rows] {
                h = mix64(h ^ u64::from(*v));
            }
            h as u32
        })
    }

    fn is_alive(&self, id: u32) -> bool {
        self.alive
            .get(id as usize / 64)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    /// Index a document. Empty texts are indexed (they can be removed) but never match.
    pub fn insert(&mut self, sig: &Signature, meta: &DocMeta) -> Result<DocId, TextError> {
        let id = match self.free.pop() {
            Some(id) => {
                let i = id as usize;
                self.fingerprints[i] = sig.fingerprint;
                self.sketches[i] = sig.sketch();
                self.sizes[i] = sig.shingles;
                self.petitioners[i] = meta_hash(&meta.petitioner);
                self.addressees[i] = meta_hash(&meta.addressee);
                id
            }
            None => {
                let id =
                    u32::try_from(self.fingerprints.len()).map_err(|_| TextError::IndexFull)?;
                if id == u32::MAX {
                    return Err(TextError::IndexFull);
                }
                self.fingerprints.push(sig.fingerprint);
                self.sketches.push(sig.sketch());
                self.sizes.push(sig.shingles);
                self.petitioners.push(meta_hash(&meta.petitioner));
                self.addressees.push(meta_hash(&meta.addressee));
                if self.alive.len() * 64 <= id as usize {
                    self.alive.push(0);
                }
                id
            }
        };
        if let Some(w) = self.alive.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
        if !sig.is_empty() {
            let keys: Vec<u32> = self.band_keys(sig).collect();
            for k in keys {
                self.table.insert(k, id);
            }
        }
        self.live += 1;
        Ok(DocId(id))
    }

    /// Remove a document; its signature is needed to find its band slots.
    pub fn remove(&mut self, doc: DocId, sig: &Signature) -> Result<(), TextError> {
        if !self.is_alive(doc.0) {
            return Err(TextError::UnknownDoc(doc.0));
        }
        let keys: Vec<u32> = if sig.is_empty() {
            Vec::new()
        } else {
            self.band_keys(sig).collect()
        };
        for k in keys {
            self.table.remove(k, doc.0);
        }
        if let Some(w) = self.alive.get_mut(doc.0 as usize / 64) {
            *w &= !(1 << (doc.0 % 64));
        }
        self.free.push(doc.0);
        self.live -= 1;
        Ok(())
    }

    /// Find indexed documents related to a new text and classify the relation.
    pub fn query(&self, sig: &Signature, meta: &DocMeta) -> Verdict {
        let mut matches = self.candidates(sig, meta);
        matches.sort_by(|a, b| b.exact.cmp(&a.exact).then(b.jaccard.total_cmp(&a.jaccard)));
        matches.truncate(self.config.max_matches);
        let kind = self.classify(&matches, meta);
        Verdict { kind, matches }
    }

    fn candidates(&self, sig: &Signature, meta: &DocMeta) -> Vec<Match> {
        if sig.is_empty() {
            return Vec::new();
        }
        let mut ids: Vec<u32> = Vec::new();
        for k in self.band_keys(sig) {
            self.table.for_each(k, |d| ids.push(d));
        }
        ids.sort_unstable();
        ids.dedup();
        let sketch = sig.sketch();
        let p = meta_hash(&meta.petitioner);
        let a = meta_hash(&meta.addressee);
        let cfg = &self.config;
        ids.into_iter()
            .filter(|&id| self.is_alive(id))
            .filter_map(|id| {
                let i = id as usize;
                let exact = self.fingerprints[i] == sig.fingerprint;
                let jaccard = if exact {
                    1.0
                } else {
                    sketch_jaccard(&sketch, &self.sketches[i])
                };
                let (na, nb) = (f32::from(sig.shingles), f32::from(self.sizes[i]));
                let inter = jaccard * (na + nb) / (1.0 + jaccard);
                let containment = (inter / na.min(nb).max(1.0)).min(1.0);
                let near_copy = exact
                    || jaccard >= cfg.near_jaccard
                    || (containment >= cfg.near_containment
                        && jaccard >= cfg.containment_min_jaccard);
                if !near_copy && jaccard < cfg.same_issue_jaccard {
                    return None;
                }
                let cmp = |x: u32, y: u32| if x == 0 || y == 0 { None } else { Some(x == y) };
                Some(Match {
                    doc: DocId(id),
                    jaccard,
                    containment,
                    exact,
                    near_copy,
                    same_petitioner: cmp(p, self.petitioners[i]),
                    same_addressee: cmp(a, self.addressees[i]),
                })
            })
            .collect()
    }

    fn classify(&self, matches: &[Match], meta: &DocMeta) -> MatchKind {
        let near: Vec<&Match> = matches.iter().filter(|m| m.near_copy).collect();
        if near.is_empty() {
            return if matches.is_empty() {
                MatchKind::New
            } else {
                MatchKind::SameIssue
            };
        }
        // A copy whose petitioner cannot be compared is treated as the same person's (the safe
        // reading: offer to follow the existing case).
        let same_person: Vec<&&Match> = near
            .iter()
            .filter(|m| m.same_petitioner != Some(false))
            .collect();
        if same_person.iter().any(|m| m.same_addressee == Some(false)) {
            return MatchKind::MultiAddressed;
        }
        let mut others: Vec<u32> = near
            .iter()
            .filter(|m| m.same_petitioner == Some(false))
            .map(|m| self.petitioners[m.doc.0 as usize])
            .collect();
        others.sort_unstable();
        others.dedup();
        let petitioners = others.len() + usize::from(meta_hash(&meta.petitioner) != 0);
        if !others.is_empty() && petitioners >= self.config.group_min_petitioners {
            return MatchKind::PossibleGroup;
        }
        if !same_person.is_empty() {
            return MatchKind::Repeat;
        }
        MatchKind::SameIssue
    }

    /// Serialise to a compact binary form (little-endian; format version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.fingerprints.len();
        let mut out = Vec::with_capacity(64 + n * 90 + self.table.slots.len() * 8);
        out.extend_from_slice(b"HYDX");
        out.extend_from_slice(&1u32.to_le_bytes());
        let cfg = serde_json::to_vec(&self.config).unwrap_or_default();
        out.extend_from_slice(&(cfg.len() as u64).to_le_bytes());
        out.extend_from_slice(&cfg);
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for i in 0..n {
            out.extend_from_slice(&self.fingerprints[i].to_le_bytes());
            out.extend_from_slice(&self.sketches[i]);
            out.extend_from_slice(&self.sizes[i].to_le_bytes());
            out.extend_from_slice(&self.petitioners[i].to_le_bytes());
            out.extend_from_slice(&self.addressees[i].to_le_bytes());
        }
        out.extend_from_slice(&(self.alive.len() as u64).to_le_bytes());
        for w in &self.alive {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&(self.table.slots.len() as u64).to_le_bytes());
        for s in &self.table.slots {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Load what [`DupIndex::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TextError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(4)? != b"HYDX" {
            return Err(TextError::Model("not a duplicate index".into()));
        }
        if r.u32()? != 1 {
            return Err(TextError::Model("unsupported index version".into()));
        }
        let cfg_len = r.len()?;
        let config: IndexConfig = serde_json::from_slice(r.take(cfg_len)?)
            .map_err(|e| TextError::Model(e.to_string()))?;
        let n = r.len()?;
        let mut idx = Self::new(config);
        for _ in 0..n {
            idx.fingerprints.push(r.u64()?);
            let mut sk = [0u8; SKETCH_BYTES];
            sk.copy_from_slice(r.take(SKETCH_BYTES)?);
            idx.sketches.push(sk);
            idx.sizes.push(u16::from_le_bytes([r.u8()?, r.u8()?]));
            idx.petitioners.push(r.u32()?);
            idx.addressees.push(r.u32()?);
        }
        let words = r.len()?;
        for _ in 0..words {
            idx.alive.push(r.u64()?);
        }
        if words * 64 < n {
            return Err(TextError::Model("truncated liveness bitmap".into()));
        }
        let slots = r.len()?;
        idx.table.slots = Vec::with_capacity(slots);
        for _ in 0..slots {
            let s = r.u64()?;
            if s != EMPTY_SLOT {
                if (s as u32) as usize >= n {
                    return Err(TextError::Model(
                        "band slot points past the documents".into(),
                    ));
                }
                idx.table.len += 1;
            }
            idx.table.slots.push(s);
        }
        idx.live = (0..n as u32).filter(|&i| idx.is_alive(i)).count();
        idx.free = (0..n as u32).filter(|&i| !idx.is_alive(i)).collect();
        Ok(idx)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TextError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let Some(end) = end else {
            return Err(TextError::Model("truncated index".into()));
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, TextError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, TextError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, TextError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn len(&mut self) -> Result<usize, TextError> {
        let v = self.u64()?;
        let v = usize::try_from(v).map_err(|_| TextError::Model("length overflow".into()))?;
        if v > self.b.len() {
            return Err(TextError::Model("length past the end".into()));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &str = "尊敬的领导：我们是幸福小区的业主，小区物业未经业主同意，擅自利用公共面积收取停车费，\
        收费后车辆受损拒不承担责任，业主多次向物业和社区反映，物业置之不理，社区不作为。请领导督办，依法规范物业收费。\
        联系电话13812345678。";

    fn meta(p: &str, a: &str) -> DocMeta {
        DocMeta {
            petitioner: Some(p.into()),
            addressee: Some(a.into()),
        }
    }

    #[test]
    fn repeat_multi_group_new() {
        let mut idx = DupIndex::default();
        let s1 = Signature::of_text(LETTER);
        let Ok(d1) = idx.insert(&s1, &meta("u1", "住建局")) else {
            panic!()
        };
        // same petitioner, same organ, phone changed and punctuation changed
        let copy = LETTER
            .replace("13812345678", "13999999999")
            .replace('，', " ");
        let v = idx.query(&Signature::of_text(&copy), &meta("u1", "住建局"));
        assert_eq!(v.kind, MatchKind::Repeat, "{v:?}");
        assert_eq!(v.matches[0].doc, d1);
        let v = idx.query(&Signature::of_text(LETTER), &meta("u1", "市长信箱"));
        assert_eq!(v.kind, MatchKind::MultiAddressed);
        let v = idx.query(&Signature::of_text(LETTER), &meta("u2", "住建局"));
        assert_eq!(v.kind, MatchKind::PossibleGroup);
        let other =
            "学校门口的公交站台被拆除，学生上学要走两公里，请交通部门恢复站台，方便学生出行。";
        let v = idx.query(&Signature::of_text(other), &meta("u1", "住建局"));
        assert_eq!(v.kind, MatchKind::New);
        // remove
        assert!(idx.remove(d1, &s1).is_ok());
        assert!(idx.remove(d1, &s1).is_err());
        assert_eq!(idx.query(&s1, &meta("u1", "住建局")).kind, MatchKind::New);
    }

    #[test]
    fn roundtrip_bytes() {
        let mut idx = DupIndex::default();
        let texts = [
            LETTER,
            "另一封完全不同的来信，关于农村饮水安全问题的反映。",
            "",
        ];
        let mut ids = Vec::new();
        for t in texts {
            let Ok(id) = idx.insert(&Signature::of_text(t), &DocMeta::default()) else {
                panic!()
            };
            ids.push(id);
        }
        assert!(idx.remove(ids[1], &Signature::of_text(texts[1])).is_ok());
        let bytes = idx.to_bytes();
        let Ok(back) = DupIndex::from_bytes(&bytes) else {
            panic!("load")
        };
        assert_eq!(back.len(), 2);
        let v = back.query(&Signature::of_text(LETTER), &DocMeta::default());
        assert_eq!(v.kind, MatchKind::Repeat);
        assert!(DupIndex::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(DupIndex::from_bytes(b"junk").is_err());
    }

    #[test]
    fn table_remove_keeps_others() {
        let mut t = BandTable::with_capacity(4);
        for d in 0..200u32 {
            t.insert(d % 7, d);
        }
        for d in (0..200u32).step_by(2) {
            assert!(t.remove(d % 7, d));
        }
        let mut found = Vec::new();
        for k in 0..7 {
            t.for_each(k, |d| found.push(d));
        }
        found.sort_unstable();
        assert_eq!(
            found,
            (0..200u32).filter(|d| d % 2 == 1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn empty_text_never_matches() {
        let mut idx = DupIndex::default();
        let e = Signature::of_text("");
        assert!(idx.insert(&e, &DocMeta::default()).is_ok());
        assert_eq!(idx.query(&e, &DocMeta::default()).kind, MatchKind::New);
    }
}
