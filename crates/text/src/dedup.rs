//! Duplicate and repeat detection (重复信访, 一信多投, 群体联名): an exact fingerprint plus MinHash
//! with LSH banding over character shingles of the matching key ([`crate::normalize::match_key`]).
//!
//! Memory layout, chosen to stay near 200 bytes per indexed petition at a million petitions:
//! per document a 64-bit fingerprint, a 4-bit ("b-bit") MinHash sketch of [`NUM_HASHES`] values
//! (64 bytes) for verification, the shingle count, two 32-bit hashes of petitioner and
//! addressee, and a 32-bit link to the same petitioner's previous document; per distinct band
//! key one 8-byte slot (`u32` key, `u32` value) in a flat open-addressing table, whose value is
//! the document itself when only one holds the key, else a bucket (`Vec<u32>` of the documents,
//! oldest first); per petitioner one 8-byte slot naming their newest document. Full-width
//! MinHash values are used only to form band keys and are not stored.
//!
//! Cost. A mass campaign of copied letters puts thousands of documents under the same band
//! keys. Each key has one slot however many documents share it, so an insert is one probe and
//! a push per band (amortised O(1)); a query scores at most the newest
//! [`IndexConfig::max_candidates_per_key`] documents of each band key plus the petitioner's own
//! newest [`IndexConfig::max_own_docs`] documents, which are looked up through their own list
//! and so are found (重复信访) however large the cluster of other people's copies is.
//! [`DupIndex::query_counted`] and [`DupIndex::insert_counted`] report the work done
//! ([`Work`]).

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
/// A slot value with this bit set names a bucket; without it, a document.
const BUCKET_BIT: u32 = 1 << 31;
/// Document ids and bucket numbers stay below this (the top bit of a slot value tells them
/// apart, and `u32::MAX` in both halves is the empty slot).
const MAX_IDS: u32 = BUCKET_BIT - 1;
/// "No document" in the petitioner links.
const NO_DOC: u32 = u32::MAX;
/// Version of the [`DupIndex::to_bytes`] format.
const FORMAT_VERSION: u32 = 2;

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

/// Index settings. A setting missing from a stored configuration takes its default.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
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
    /// Most matches returned by a query (the petitioner's own near copies first, so a repeat
    /// petition is never cut; the classification is made on all matches before the cut).
    pub max_matches: usize,
    /// Band-table candidates per band key: a query scores the newest this many documents
    /// sharing each of its band keys, so its work stays bounded (at most `bands` times this)
    /// when a campaign puts thousands of copies under one key. The older copies are not lost
    /// to what matters: a possible group needs two petitioners, and the petitioner's own
    /// documents are scored besides ([`IndexConfig::max_own_docs`]). At least 1.
    pub max_candidates_per_key: usize,
    /// The petitioner's own documents, newest first, that a query scores whatever the band
    /// keys found (重复信访 and 一信多投 are found even inside a cluster of copies).
    pub max_own_docs: usize,
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
            max_candidates_per_key: 64,
            max_own_docs: 256,
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

/// What one insert or query did, counted: the work must not grow with the size of a cluster of
/// copies (tests and benches check it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Hash-table slots probed (band keys and the petitioner's list head).
    pub slots_probed: usize,
    /// Band-table candidates collected before de-duplication (at most `bands ×
    /// max_candidates_per_key`).
    pub band_candidates: usize,
    /// The petitioner's own documents visited (at most `max_own_docs`).
    pub own_visited: usize,
    /// Distinct live documents scored (sketches compared).
    pub scored: usize,
}

/// Flat open-addressing map from a 32-bit key to a 32-bit value: one 8-byte slot per key,
/// linear probing, backward-shift deletion; never fuller than [`KeyTable::MAX_LOAD`], so every
/// probe ends at the key or at an empty slot.
#[derive(Debug, Clone, Default)]
struct KeyTable {
    slots: Vec<u64>,
    len: usize,
}

impl KeyTable {
    const MAX_LOAD: f64 = 0.9;
    /// How full a table sized for a known number of keys starts out when they are all in: a
    /// little under [`Self::MAX_LOAD`], so a pre-sized index does not regrow, and as full as
    /// linear probing stays quick at (the index's memory budget is ≤ 200 bytes a petition).
    const PRESIZE_LOAD: f64 = 0.88;

    fn with_capacity(keys: usize) -> Self {
        let cap = ((keys as f64 / Self::PRESIZE_LOAD) as usize).max(16);
        Self {
            slots: vec![EMPTY_SLOT; cap],
            len: 0,
        }
    }

    #[inline]
    fn home(&self, key: u32) -> usize {
        ((u64::from(key) * self.slots.len() as u64) >> 32) as usize
    }

    /// The slot holding `key` (`Ok`) or the empty slot where it would go (`Err`), counting the
    /// slots looked at into `probes`. `None` on a table with no slots.
    fn find(&self, key: u32, probes: &mut usize) -> Option<Result<usize, usize>> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let mut i = self.home(key);
        loop {
            *probes += 1;
            let s = self.slots[i];
            if s == EMPTY_SLOT {
                return Some(Err(i));
            }
            if (s >> 32) as u32 == key {
                return Some(Ok(i));
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    fn get(&self, key: u32, probes: &mut usize) -> Option<u32> {
        match self.find(key, probes)? {
            Ok(i) => Some(self.slots[i] as u32),
            Err(_) => None,
        }
    }

    #[inline]
    fn value_at(&self, i: usize) -> u32 {
        self.slots[i] as u32
    }

    #[inline]
    fn set_at(&mut self, i: usize, key: u32, value: u32) {
        self.slots[i] = (u64::from(key) << 32) | u64::from(value);
    }

    /// Makes room for one more key (call before [`KeyTable::find`] for an insert: growing moves
    /// the slots).
    fn reserve_one(&mut self) {
        if self.slots.is_empty() || (self.len + 1) as f64 > self.slots.len() as f64 * Self::MAX_LOAD
        {
            let new_cap = (self.slots.len() * 3 / 2).max(16);
            let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; new_cap]);
            for s in old.into_iter().filter(|s| *s != EMPTY_SLOT) {
                // each key is present once, so its new place is the first empty slot
                let mut i = self.home((s >> 32) as u32);
                while self.slots[i] != EMPTY_SLOT {
                    i = (i + 1) % new_cap;
                }
                self.slots[i] = s;
            }
        }
    }

    /// Fills the empty slot `i` that [`KeyTable::find`] returned for `key`.
    fn fill(&mut self, i: usize, key: u32, value: u32) {
        self.set_at(i, key, value);
        self.len += 1;
    }

    /// Empties slot `i`; backward-shift deletion keeps every probe sequence unbroken.
    fn remove_at(&mut self, i: usize) {
        let n = self.slots.len();
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
    }

    /// Every `(key, value)`, in key order (so that the serialised form does not depend on the
    /// table's size or history).
    fn sorted_entries(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .slots
            .iter()
            .filter(|s| **s != EMPTY_SLOT)
            .map(|s| ((s >> 32) as u32, *s as u32))
            .collect();
        v.sort_unstable();
        v
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// Multimap from a 32-bit band key to document ids: one [`KeyTable`] slot per key, holding the
/// document when it is the key's only one, else the number of a bucket listing the key's
/// documents oldest first. Insert is one probe and a push; the newest documents of a key are
/// the end of its bucket.
#[derive(Debug, Clone, Default)]
struct BandTable {
    keys: KeyTable,
    buckets: Vec<Vec<u32>>,
    /// Numbers of emptied buckets, reused first.
    free_buckets: Vec<u32>,
    /// Sum of the buckets' capacities, in bytes.
    bucket_bytes: usize,
}

impl BandTable {
    fn with_capacity(entries: usize) -> Self {
        Self {
            keys: KeyTable::with_capacity(entries),
            ..Self::default()
        }
    }

    /// True when `more` buckets could still be numbered.
    fn has_room(&self, more: usize) -> bool {
        self.buckets.len().saturating_add(more) < MAX_IDS as usize
    }

    fn insert(&mut self, key: u32, doc: u32, probes: &mut usize) {
        self.keys.reserve_one();
        let Some(found) = self.keys.find(key, probes) else {
            return;
        };
        let i = match found {
            Err(empty) => return self.keys.fill(empty, key, doc),
            Ok(i) => i,
        };
        let v = self.keys.value_at(i);
        if v & BUCKET_BIT == 0 {
            // the key's second document: a bucket of both, oldest first
            let b = self.new_bucket(vec![v, doc]);
            self.keys.set_at(i, key, BUCKET_BIT | b);
        } else if let Some(bucket) = self.buckets.get_mut((v & !BUCKET_BIT) as usize) {
            let before = bucket.capacity();
            bucket.push(doc);
            self.bucket_bytes += (bucket.capacity() - before) * 4;
        }
    }

    fn new_bucket(&mut self, docs: Vec<u32>) -> u32 {
        self.bucket_bytes += docs.capacity() * 4;
        if let Some(b) = self.free_buckets.pop()
            && let Some(slot) = self.buckets.get_mut(b as usize)
        {
            *slot = docs;
            return b;
        }
        // `DupIndex::insert` checked `has_room` first
        self.buckets.push(docs);
        (self.buckets.len() - 1) as u32
    }

    /// Calls `f` with the newest `cap` documents under `key`, newest first.
    fn for_newest(&self, key: u32, cap: usize, probes: &mut usize, mut f: impl FnMut(u32)) {
        let Some(v) = self.keys.get(key, probes) else {
            return;
        };
        if v & BUCKET_BIT == 0 {
            if cap > 0 {
                f(v);
            }
        } else if let Some(bucket) = self.buckets.get((v & !BUCKET_BIT) as usize) {
            bucket.iter().rev().take(cap).for_each(|&d| f(d));
        }
    }

    /// Removes one occurrence of `doc` under `key`; false when it is not there. Costs a search
    /// of the key's bucket (a memory scan; removal is rare — a withdrawn or merged case).
    fn remove(&mut self, key: u32, doc: u32) -> bool {
        let mut probes = 0;
        let Some(Ok(i)) = self.keys.find(key, &mut probes) else {
            return false;
        };
        let v = self.keys.value_at(i);
        if v & BUCKET_BIT == 0 {
            if v != doc {
                return false;
            }
            self.keys.remove_at(i);
            return true;
        }
        let b = v & !BUCKET_BIT;
        let Some(bucket) = self.buckets.get_mut(b as usize) else {
            return false;
        };
        let Some(pos) = bucket.iter().rposition(|&d| d == doc) else {
            return false;
        };
        bucket.remove(pos);
        if let [last] = bucket[..] {
            // back to one document: stored in the slot, the bucket freed
            self.bucket_bytes -= bucket.capacity() * 4;
            *bucket = Vec::new();
            self.free_buckets.push(b);
            self.keys.set_at(i, key, last);
        } else if bucket.capacity() > 8 && bucket.len() * 4 < bucket.capacity() {
            let before = bucket.capacity();
            bucket.shrink_to(bucket.len() * 2);
            self.bucket_bytes -= (before - bucket.capacity()) * 4;
        }
        true
    }

    /// Calls `f` with every key and its documents, oldest first, in key order.
    fn for_each_entry(&self, mut f: impl FnMut(u32, &[u32])) {
        for (key, v) in self.keys.sorted_entries() {
            if v & BUCKET_BIT == 0 {
                f(key, &[v]);
            } else if let Some(bucket) = self.buckets.get((v & !BUCKET_BIT) as usize) {
                f(key, bucket);
            }
        }
    }

    fn bytes(&self) -> usize {
        self.keys.bytes()
            + self.buckets.capacity() * std::mem::size_of::<Vec<u32>>()
            + self.bucket_bytes
            + self.free_buckets.capacity() * 4
    }
}

/// The near-duplicate index. Insert is `O(bands)` amortised; a query scores at most
/// `bands × max_candidates_per_key + max_own_docs` documents, however many copies of a text are
/// indexed ([`Work`]).
#[derive(Debug, Clone)]
pub struct DupIndex {
    config: IndexConfig,
    fingerprints: Vec<u64>,
    sketches: Vec<[u8; SKETCH_BYTES]>,
    sizes: Vec<u16>,
    petitioners: Vec<u32>,
    addressees: Vec<u32>,
    /// Per document: the same petitioner's previous (older) live document, or [`NO_DOC`].
    prev_own: Vec<u32>,
    /// Petitioner hash → their newest live document (the head of their `prev_own` list).
    own_heads: KeyTable,
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
        config.max_candidates_per_key = config.max_candidates_per_key.max(1);
        let table = BandTable::with_capacity(docs * config.bands);
        Self {
            config,
            fingerprints: Vec::with_capacity(docs),
            sketches: Vec::with_capacity(docs),
            sizes: Vec::with_capacity(docs),
            petitioners: Vec::with_capacity(docs),
            addressees: Vec::with_capacity(docs),
            prev_own: Vec::with_capacity(docs),
            own_heads: KeyTable::default(),
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

    /// Bytes allocated by the index (capacities of all its vectors and tables).
    pub fn memory_bytes(&self) -> usize {
        self.fingerprints.capacity() * 8
            + self.sketches.capacity() * SKETCH_BYTES
            + self.sizes.capacity() * 2
            + self.petitioners.capacity() * 4
            + self.addressees.capacity() * 4
            + self.prev_own.capacity() * 4
            + self.own_heads.bytes()
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
        (id as usize) < self.fingerprints.len()
            && self
                .alive
                .get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    /// Index a document. Empty texts are indexed (they can be removed) but never match.
    pub fn insert(&mut self, sig: &Signature, meta: &DocMeta) -> Result<DocId, TextError> {
        self.insert_counted(sig, meta).map(|(id, _)| id)
    }

    /// [`DupIndex::insert`], with the work it did.
    pub fn insert_counted(
        &mut self,
        sig: &Signature,
        meta: &DocMeta,
    ) -> Result<(DocId, Work), TextError> {
        if !self.table.has_room(self.config.bands) {
            return Err(TextError::IndexFull);
        }
        let petitioner = meta_hash(&meta.petitioner);
        let id = match self.free.pop() {
            Some(id) => {
                let i = id as usize;
                self.fingerprints[i] = sig.fingerprint;
                self.sketches[i] = sig.sketch();
                self.sizes[i] = sig.shingles;
                self.petitioners[i] = petitioner;
                self.addressees[i] = meta_hash(&meta.addressee);
                id
            }
            None => {
                let id =
                    u32::try_from(self.fingerprints.len()).map_err(|_| TextError::IndexFull)?;
                if id >= MAX_IDS {
                    return Err(TextError::IndexFull);
                }
                self.fingerprints.push(sig.fingerprint);
                self.sketches.push(sig.sketch());
                self.sizes.push(sig.shingles);
                self.petitioners.push(petitioner);
                self.addressees.push(meta_hash(&meta.addressee));
                self.prev_own.push(NO_DOC);
                if self.alive.len() * 64 <= id as usize {
                    self.alive.push(0);
                }
                id
            }
        };
        if let Some(w) = self.alive.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
        let mut work = Work::default();
        if !sig.is_empty() {
            let keys: Vec<u32> = self.band_keys(sig).collect();
            for k in keys {
                self.table.insert(k, id, &mut work.slots_probed);
            }
        }
        self.link_own(id, petitioner, &mut work.slots_probed);
        self.live += 1;
        Ok((DocId(id), work))
    }

    /// Puts `id` at the head of its petitioner's list.
    fn link_own(&mut self, id: u32, petitioner: u32, probes: &mut usize) {
        let mut prev = NO_DOC;
        if petitioner != 0 {
            self.own_heads.reserve_one();
            match self.own_heads.find(petitioner, probes) {
                Some(Ok(i)) => {
                    prev = self.own_heads.value_at(i);
                    self.own_heads.set_at(i, petitioner, id);
                }
                Some(Err(i)) => self.own_heads.fill(i, petitioner, id),
                None => {}
            }
        }
        if let Some(p) = self.prev_own.get_mut(id as usize) {
            *p = prev;
        }
    }

    /// Takes `id` out of its petitioner's list (a walk of the petitioner's documents).
    fn unlink_own(&mut self, id: u32) {
        let Some(&petitioner) = self.petitioners.get(id as usize) else {
            return;
        };
        let next_older = self.prev_own.get(id as usize).copied().unwrap_or(NO_DOC);
        let mut probes = 0;
        if petitioner != 0
            && let Some(Ok(i)) = self.own_heads.find(petitioner, &mut probes)
        {
            let head = self.own_heads.value_at(i);
            if head == id {
                if next_older == NO_DOC {
                    self.own_heads.remove_at(i);
                } else {
                    self.own_heads.set_at(i, petitioner, next_older);
                }
            } else {
                let mut cur = head;
                // a list has at most as many entries as there are documents
                for _ in 0..self.prev_own.len() {
                    let Some(&prev) = self.prev_own.get(cur as usize) else {
                        break;
                    };
                    if prev == id {
                        self.prev_own[cur as usize] = next_older;
                        break;
                    }
                    if prev == NO_DOC {
                        break;
                    }
                    cur = prev;
                }
            }
        }
        if let Some(p) = self.prev_own.get_mut(id as usize) {
            *p = NO_DOC;
        }
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
        self.unlink_own(doc.0);
        if let Some(w) = self.alive.get_mut(doc.0 as usize / 64) {
            *w &= !(1 << (doc.0 % 64));
        }
        self.free.push(doc.0);
        self.live -= 1;
        Ok(())
    }

    /// Find indexed documents related to a new text and classify the relation. The matches are
    /// the petitioner's own near copies first, then the rest by exact match and Jaccard; the
    /// kind is decided on every match found, before the cut to `max_matches`.
    pub fn query(&self, sig: &Signature, meta: &DocMeta) -> Verdict {
        self.query_counted(sig, meta).0
    }

    /// [`DupIndex::query`], with the work it did.
    pub fn query_counted(&self, sig: &Signature, meta: &DocMeta) -> (Verdict, Work) {
        let mut work = Work::default();
        let mut matches = self.candidates(sig, meta, true, &mut work);
        let kind = self.classify(&matches, meta);
        let own_copy = |m: &Match| m.near_copy && m.same_petitioner == Some(true);
        matches.sort_by(|a, b| {
            own_copy(b)
                .cmp(&own_copy(a))
                .then(b.exact.cmp(&a.exact))
                .then(b.jaccard.total_cmp(&a.jaccard))
        });
        matches.truncate(self.config.max_matches);
        (Verdict { kind, matches }, work)
    }

    /// Only the petitioner's own documents related to the text (same petitioner hash: near
    /// copies and same-issue texts), best first, at most `max_matches`; nothing for an unknown
    /// petitioner. What a submission needs (the repeat check reports nothing else), at a cost
    /// set by the petitioner's own documents and not by the band tables.
    pub fn query_own(&self, sig: &Signature, meta: &DocMeta) -> Vec<Match> {
        self.query_own_counted(sig, meta).0
    }

    /// [`DupIndex::query_own`], with the work it did.
    pub fn query_own_counted(&self, sig: &Signature, meta: &DocMeta) -> (Vec<Match>, Work) {
        let mut work = Work::default();
        let mut matches = self.candidates(sig, meta, false, &mut work);
        matches.retain(|m| m.same_petitioner == Some(true));
        matches.sort_by(|a, b| b.exact.cmp(&a.exact).then(b.jaccard.total_cmp(&a.jaccard)));
        matches.truncate(self.config.max_matches);
        (matches, work)
    }

    /// The petitioner's own newest documents, at most `max_own_docs`.
    fn own_docs(&self, petitioner: u32, work: &mut Work, mut f: impl FnMut(u32)) {
        if petitioner == 0 {
            return;
        }
        let Some(mut cur) = self.own_heads.get(petitioner, &mut work.slots_probed) else {
            return;
        };
        for _ in 0..self.config.max_own_docs {
            if cur == NO_DOC {
                break;
            }
            work.own_visited += 1;
            f(cur);
            cur = self.prev_own.get(cur as usize).copied().unwrap_or(NO_DOC);
        }
    }

    fn candidates(
        &self,
        sig: &Signature,
        meta: &DocMeta,
        with_bands: bool,
        work: &mut Work,
    ) -> Vec<Match> {
        if sig.is_empty() {
            return Vec::new();
        }
        let p = meta_hash(&meta.petitioner);
        let mut ids: Vec<u32> = Vec::new();
        self.own_docs(p, work, |d| ids.push(d));
        if with_bands {
            let cap = self.config.max_candidates_per_key;
            let before = ids.len();
            for k in self.band_keys(sig) {
                self.table
                    .for_newest(k, cap, &mut work.slots_probed, |d| ids.push(d));
            }
            work.band_candidates = ids.len() - before;
        }
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|&id| self.is_alive(id));
        work.scored = ids.len();
        let sketch = sig.sketch();
        let a = meta_hash(&meta.addressee);
        ids.into_iter()
            .filter_map(|id| self.score(id, sig, &sketch, p, a))
            .collect()
    }

    /// The relation of live document `id` to the query, or `None` when unrelated.
    fn score(
        &self,
        id: u32,
        sig: &Signature,
        sketch: &[u8; SKETCH_BYTES],
        p: u32,
        a: u32,
    ) -> Option<Match> {
        let i = id as usize;
        let cfg = &self.config;
        let exact = *self.fingerprints.get(i)? == sig.fingerprint;
        let jaccard = if exact {
            1.0
        } else {
            sketch_jaccard(sketch, self.sketches.get(i)?)
        };
        let (na, nb) = (f32::from(sig.shingles), f32::from(*self.sizes.get(i)?));
        let inter = jaccard * (na + nb) / (1.0 + jaccard);
        let containment = (inter / na.min(nb).max(1.0)).min(1.0);
        let near_copy = exact
            || jaccard >= cfg.near_jaccard
            || (containment >= cfg.near_containment && jaccard >= cfg.containment_min_jaccard);
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
            same_petitioner: cmp(p, *self.petitioners.get(i)?),
            same_addressee: cmp(a, *self.addressees.get(i)?),
        })
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
            .filter_map(|m| self.petitioners.get(m.doc.0 as usize).copied())
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

    /// Serialise to a compact binary form (little-endian; format version 2): the configuration,
    /// the per-document records, the liveness bitmap, every band key with its documents (oldest
    /// first) and every petitioner's documents (newest first), keys in ascending order so the
    /// bytes depend only on the index's content and history, not on its table sizes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.fingerprints.len();
        let mut out = Vec::with_capacity(64 + n * (90 + 4 * self.config.bands + 8));
        out.extend_from_slice(b"HYDX");
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
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
        out.extend_from_slice(&(self.table.keys.len as u64).to_le_bytes());
        self.table.for_each_entry(|key, docs| {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&(docs.len() as u32).to_le_bytes());
            for d in docs {
                out.extend_from_slice(&d.to_le_bytes());
            }
        });
        let heads = self.own_heads.sorted_entries();
        out.extend_from_slice(&(heads.len() as u64).to_le_bytes());
        for (petitioner, head) in heads {
            let mut docs = Vec::new();
            let mut cur = head;
            while cur != NO_DOC && docs.len() < n {
                docs.push(cur);
                cur = self.prev_own.get(cur as usize).copied().unwrap_or(NO_DOC);
            }
            out.extend_from_slice(&petitioner.to_le_bytes());
            out.extend_from_slice(&(docs.len() as u32).to_le_bytes());
            for d in docs {
                out.extend_from_slice(&d.to_le_bytes());
            }
        }
        out
    }

    /// Load what [`DupIndex::to_bytes`] wrote. Version 1 (one band slot per document and band,
    /// before 2026-12) is refused with a message saying so: the index is derived data, rebuilt
    /// from the petitions.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TextError> {
        let bad = |m: &str| TextError::Model(m.to_string());
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(4)? != b"HYDX" {
            return Err(bad("not a duplicate index"));
        }
        match r.u32()? {
            FORMAT_VERSION => {}
            1 => {
                return Err(bad(
                    "duplicate index format version 1 is no longer read (band slots are now \
                     grouped by key); rebuild the index from the petitions",
                ));
            }
            v => {
                return Err(TextError::Model(format!(
                    "unsupported duplicate index format version {v} (this build reads {FORMAT_VERSION})"
                )));
            }
        }
        let cfg_len = r.len()?;
        let config: IndexConfig = serde_json::from_slice(r.take(cfg_len)?)
            .map_err(|e| TextError::Model(e.to_string()))?;
        let n = r.len()?;
        if n >= MAX_IDS as usize {
            return Err(bad("too many documents"));
        }
        let mut idx = Self::new(config);
        for _ in 0..n {
            idx.fingerprints.push(r.u64()?);
            let mut sk = [0u8; SKETCH_BYTES];
            sk.copy_from_slice(r.take(SKETCH_BYTES)?);
            idx.sketches.push(sk);
            idx.sizes.push(u16::from_le_bytes([r.u8()?, r.u8()?]));
            idx.petitioners.push(r.u32()?);
            idx.addressees.push(r.u32()?);
            idx.prev_own.push(NO_DOC);
        }
        let words = r.len()?;
        for _ in 0..words {
            idx.alive.push(r.u64()?);
        }
        if words * 64 < n {
            return Err(bad("truncated liveness bitmap"));
        }
        // no document past the records is alive
        for (w, word) in idx.alive.iter_mut().enumerate() {
            let first = w * 64;
            if first >= n {
                *word = 0;
            } else if n - first < 64 {
                *word &= (1u64 << (n - first)) - 1;
            }
        }
        let keys = r.len()?;
        let mut probes = 0;
        for _ in 0..keys {
            let key = r.u32()?;
            let count = r.count()?;
            if count == 0 {
                return Err(bad("band key without documents"));
            }
            for _ in 0..count {
                let d = r.u32()?;
                if !idx.is_alive(d) {
                    return Err(bad("band slot points to no live document"));
                }
                if !idx.table.has_room(1) {
                    return Err(TextError::IndexFull);
                }
                idx.table.insert(key, d, &mut probes);
            }
        }
        let heads = r.len()?;
        let mut listed = 0usize;
        let mut seen = vec![false; n];
        for _ in 0..heads {
            let petitioner = r.u32()?;
            let count = r.count()?;
            if petitioner == 0 || count == 0 {
                return Err(bad("empty petitioner list"));
            }
            let mut docs = Vec::with_capacity(count);
            for _ in 0..count {
                let d = r.u32()?;
                let ok = idx.is_alive(d)
                    && idx.petitioners.get(d as usize) == Some(&petitioner)
                    && !std::mem::replace(&mut seen[d as usize], true);
                if !ok {
                    return Err(bad("petitioner list names a wrong document"));
                }
                docs.push(d);
            }
            // listed newest first: link them oldest first
            for &d in docs.iter().rev() {
                idx.link_own(d, petitioner, &mut probes);
            }
            listed += count;
        }
        let owned = (0..n as u32)
            .filter(|&i| idx.is_alive(i) && idx.petitioners[i as usize] != 0)
            .count();
        if listed != owned {
            return Err(bad("petitioner lists miss documents"));
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
    /// A `u32` count of `u32` items that must fit in what is left.
    fn count(&mut self) -> Result<usize, TextError> {
        let v = self.u32()? as usize;
        if v > (self.b.len() - self.pos) / 4 {
            return Err(TextError::Model("count past the end".into()));
        }
        Ok(v)
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

    fn newest(t: &BandTable, key: u32, cap: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut probes = 0;
        t.for_newest(key, cap, &mut probes, |d| out.push(d));
        out
    }

    #[test]
    fn table_remove_keeps_others() {
        let mut t = BandTable::with_capacity(4);
        let mut probes = 0;
        for d in 0..200u32 {
            t.insert(d % 7, d, &mut probes);
        }
        for d in (0..200u32).step_by(2) {
            assert!(t.remove(d % 7, d));
        }
        assert!(!t.remove(0, 0), "already removed");
        let mut found = Vec::new();
        for k in 0..7 {
            found.extend(newest(&t, k, usize::MAX));
        }
        found.sort_unstable();
        assert_eq!(
            found,
            (0..200u32).filter(|d| d % 2 == 1).collect::<Vec<_>>()
        );
        // newest first, and the cap takes the newest
        assert_eq!(newest(&t, 3, 3), vec![199, 185, 171]);
    }

    /// The band table against a plain map of vectors, through a long random sequence of inserts
    /// and removals with few keys (large buckets) and many keys (single slots, growth).
    #[test]
    fn table_agrees_with_a_model() {
        use std::collections::HashMap;
        let mut rng = crate::hash::Rng::new(7);
        for key_range in [5u64, 5_000] {
            let mut t = BandTable::default();
            let mut model: HashMap<u32, Vec<u32>> = HashMap::new();
            let mut probes = 0;
            for step in 0..20_000u32 {
                let key = (rng.next_u64() % key_range) as u32;
                if rng.next_u64().is_multiple_of(3) {
                    let docs = model.entry(key).or_default();
                    let want = if docs.is_empty() {
                        None
                    } else {
                        Some(docs.remove((rng.next_u64() % docs.len() as u64) as usize))
                    };
                    match want {
                        Some(d) => assert!(t.remove(key, d)),
                        None => assert!(!t.remove(key, step)),
                    }
                } else {
                    t.insert(key, step, &mut probes);
                    model.entry(key).or_default().push(step);
                }
            }
            let mut keys = 0;
            for (key, docs) in &model {
                let mut want = docs.clone();
                want.reverse();
                assert_eq!(newest(&t, *key, usize::MAX), want, "key {key}");
                keys += usize::from(!docs.is_empty());
            }
            assert_eq!(t.keys.len, keys);
            let single = model.values().filter(|d| d.len() == 1).count();
            assert_eq!(
                t.buckets.len() - t.free_buckets.len(),
                keys - single,
                "one bucket per key with two or more documents"
            );
        }
    }

    fn campaign_text(i: usize) -> String {
        const TOPICS: [&str; 6] = [
            "小区冬季供暖温度不达标",
            "拖欠农民工工资问题",
            "道路施工夜间噪音扰民",
            "征地补偿款未按时发放",
            "学校周边交通安全隐患",
            "物业公司违规收费",
        ];
        let t = TOPICS[i % TOPICS.len()];
        format!(
            "{t}。本人居住在本区某街道某小区，自去年十一月以来该问题一直没有得到解决，多次向社区居委会和\
             相关部门反映，均答复正在协调处理，但至今没有实质进展。该问题严重影响了本人及家人的正常生活。\
             恳请有关部门依法依规尽快调查核实，督促责任单位限期整改，并将处理结果书面答复本人。"
        )
    }

    /// `copies` petitions, each from its own petitioner to one organ, that are copies of six
    /// texts (the signatures of the six are reused: the index only sees signatures).
    /// Returns the largest work of one insert, and the total slots probed.
    fn campaign(idx: &mut DupIndex, sigs: &[Signature], copies: usize) -> (Work, usize) {
        let mut worst = Work::default();
        let mut total = 0;
        for i in 0..copies {
            let Ok((_, w)) =
                idx.insert_counted(&sigs[i % sigs.len()], &meta(&format!("c{i}"), "住建局"))
            else {
                panic!("insert {i}")
            };
            worst.slots_probed = worst.slots_probed.max(w.slots_probed);
            worst.scored = worst.scored.max(w.scored);
            total += w.slots_probed;
        }
        (worst, total)
    }

    #[test]
    fn copy_cluster_work_is_bounded() {
        let sigs: Vec<Signature> = (0..6)
            .map(|i| Signature::of_text(&campaign_text(i)))
            .collect();
        let cfg = IndexConfig::default();
        let (bands, cap) = (cfg.bands, cfg.max_candidates_per_key);
        let probe = Signature::of_text(&format!("尊敬的领导：{}", campaign_text(0)));
        let mut small = DupIndex::default();
        campaign(&mut small, &sigs, 2_000);
        let (_, w_small) = small.query_counted(&probe, &meta("new", "住建局"));
        let mut idx = DupIndex::default();
        let (worst_insert, probed) = campaign(&mut idx, &sigs, 20_000);
        assert_eq!(idx.len(), 20_000);
        // an insert: one probe per band key plus the petitioner's head, each a run of a
        // linear-probing table at most 90% full, whatever the cluster size (the old table
        // walked every copy under the key: ~3,333 slots per band here, 40,000 per insert)
        let mean = probed as f64 / 20_000.0;
        eprintln!(
            "insert probes: mean {mean:.1}, worst {}",
            worst_insert.slots_probed
        );
        assert!(mean <= 5.0 * (bands + 1) as f64, "mean {mean}");
        assert!(
            worst_insert.slots_probed <= 1_000,
            "insert probed {} slots",
            worst_insert.slots_probed
        );
        assert_eq!(worst_insert.scored, 0, "an insert scores nothing");
        let (v, w) = idx.query_counted(&probe, &meta("new", "住建局"));
        assert_eq!(v.kind, MatchKind::PossibleGroup);
        assert_eq!(v.matches.len(), cfg.max_matches);
        assert!(w.band_candidates <= bands * cap, "{w:?}");
        assert!(
            w.band_candidates >= cap,
            "the newest copies are candidates: {w:?}"
        );
        // 20,000 copies share most band keys (the six texts differ in their first sentence);
        // the query scores at most the newest `cap` per key
        assert!(
            w.scored <= bands * cap,
            "scored {} of a 20,000-copy cluster",
            w.scored
        );
        // one lookup per band key and the petitioner's head: runs of a table at most 90% full
        assert!(w.slots_probed <= 10 * (bands + 1), "{w:?}");
        // ten times the cluster, the same work
        assert_eq!(w.scored, w_small.scored);
        assert_eq!(w.band_candidates, w_small.band_candidates);
    }

    #[test]
    fn own_case_found_in_a_copy_cluster() {
        let sigs: Vec<Signature> = (0..6)
            .map(|i| Signature::of_text(&campaign_text(i)))
            .collect();
        let mut idx = DupIndex::default();
        // the petitioner's own letter, the oldest document of its cluster
        let Ok(own) = idx.insert(&sigs[0], &meta("u-own", "住建局")) else {
            panic!()
        };
        // and an unrelated earlier petition of theirs
        let other = "学校门口的公交站台被拆除，学生上学要走两公里，请交通部门恢复站台。";
        let Ok(unrelated) = idx.insert(&Signature::of_text(other), &meta("u-own", "交通局"))
        else {
            panic!()
        };
        campaign(&mut idx, &sigs, 20_000);
        let again = Signature::of_text(&format!("尊敬的领导：{}谢谢！", campaign_text(0)));
        let me = meta("u-own", "住建局");
        let (v, w) = idx.query_counted(&again, &me);
        // the cluster alone would offer only its newest 64 copies, and max_matches = 20 of
        // thousands of equal scores: the own case comes through its own list, and first
        assert_eq!(v.matches[0].doc, own, "{:?}", &v.matches[..2]);
        assert_eq!(v.matches[0].same_petitioner, Some(true));
        assert!(v.matches[0].near_copy);
        assert!(v.matches.iter().all(|m| m.doc != unrelated));
        assert_eq!(w.own_visited, 2);
        let cfg = idx.config();
        assert!(
            w.scored <= cfg.bands * cfg.max_candidates_per_key + 2,
            "{w:?}"
        );
        // to another organ: 一信多投, seen despite the crowd of other petitioners
        let v = idx.query(&again, &meta("u-own", "市长信箱"));
        assert_eq!(v.kind, MatchKind::MultiAddressed);
        // the submission check: the own documents only, no band-table work
        let (own_only, w) = idx.query_own_counted(&again, &me);
        assert_eq!(own_only.len(), 1);
        assert_eq!(own_only[0].doc, own);
        assert_eq!((w.band_candidates, w.scored), (0, 2));
        // a petitioner in the middle of the cluster, after more of their own petitions
        let Ok(mid) = idx.insert(&sigs[3], &meta("c9000", "住建局")) else {
            panic!()
        };
        let v = idx.query(&sigs[3], &meta("c9000", "住建局"));
        let own_found: Vec<DocId> = v
            .matches
            .iter()
            .take_while(|m| m.same_petitioner == Some(true))
            .map(|m| m.doc)
            .collect();
        assert_eq!(own_found.len(), 2, "c9000's two copies come first");
        assert!(own_found.contains(&mid));
        // removed: no longer found, the rest of the list intact
        assert!(idx.remove(own, &sigs[0]).is_ok());
        assert!(idx.query_own(&again, &me).is_empty());
        let v = idx.query(&Signature::of_text(other), &meta("u-own", "交通局"));
        assert_eq!(v.matches[0].doc, unrelated);
        assert_eq!(v.kind, MatchKind::Repeat);
    }

    #[test]
    fn own_cases_survive_the_match_cut() {
        // the petitioner's near copy, then 30 exact copies by others: the old ranking (exact
        // first) cut the petitioner's case at max_matches = 20
        let mut idx = DupIndex::default();
        let copy = format!("{LETTER}此事已反映多次，请尽快处理。");
        let Ok(own) = idx.insert(&Signature::of_text(&copy), &meta("u1", "住建局")) else {
            panic!()
        };
        let s = Signature::of_text(LETTER);
        for i in 0..30 {
            assert!(idx.insert(&s, &meta(&format!("o{i}"), "住建局")).is_ok());
        }
        let v = idx.query(&s, &meta("u1", "住建局"));
        assert_eq!(v.matches.len(), 20);
        assert_eq!(v.matches[0].doc, own);
        assert!(!v.matches[0].exact && v.matches[1].exact);
        assert_eq!(v.kind, MatchKind::PossibleGroup);
    }

    #[test]
    fn roundtrip_with_clusters_and_removals() {
        let sigs: Vec<Signature> = (0..6)
            .map(|i| Signature::of_text(&campaign_text(i)))
            .collect();
        let mut idx = DupIndex::default();
        campaign(&mut idx, &sigs, 600);
        let mut own = Vec::new();
        for (k, s) in sigs.iter().enumerate().take(3) {
            let Ok(id) = idx.insert(s, &meta("u-own", &format!("organ{k}"))) else {
                panic!()
            };
            own.push(id);
        }
        // remove a copy, one of the own documents, and reuse the freed ids
        assert!(idx.remove(DocId(7), &sigs[1]).is_ok());
        assert!(idx.remove(own[1], &sigs[1]).is_ok());
        let Ok(reused) = idx.insert(&sigs[2], &meta("u-own", "organ9")) else {
            panic!()
        };
        assert_eq!(reused, own[1], "the freed id is reused");
        let bytes = idx.to_bytes();
        let Ok(back) = DupIndex::from_bytes(&bytes) else {
            panic!("load")
        };
        assert_eq!(back.len(), idx.len());
        assert_eq!(back.to_bytes(), bytes, "the bytes are canonical");
        for (k, s) in sigs.iter().enumerate() {
            for m in [meta("u-own", "organ0"), meta("c5", "x"), DocMeta::default()] {
                assert_eq!(back.query(s, &m), idx.query(s, &m), "text {k} {m:?}");
                assert_eq!(back.query_own(s, &m), idx.query_own(s, &m));
            }
        }
        // u-own's live documents: texts 0 and 2, and text 2 again under text 1's old id
        let me = meta("u-own", "organ0");
        let own_docs: Vec<Match> = back.query_own(&sigs[0], &me);
        assert_eq!(own_docs.len(), 3, "{own_docs:?}");
        assert_eq!(own_docs[0].doc, own[0], "the exact copy first");
        assert!(own_docs.iter().any(|m| m.doc == own[2]));
        assert!(
            own_docs
                .iter()
                .any(|m| m.doc == reused && m.same_addressee == Some(false))
        );
        // the loaded index keeps working: insert and remove
        let mut back = back;
        let Ok(id) = back.insert(&sigs[0], &me) else {
            panic!()
        };
        assert_eq!(back.query_own(&sigs[0], &me).len(), 4);
        assert_eq!(back.query_own(&sigs[0], &me)[0].doc, id);
        assert!(back.remove(id, &sigs[0]).is_ok());
        assert_eq!(back.query_own(&sigs[0], &me).len(), 3);
    }

    #[test]
    fn from_bytes_refuses_old_and_bad_data() {
        let mut v1 = b"HYDX".to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&[0u8; 32]);
        let Err(TextError::Model(m)) = DupIndex::from_bytes(&v1) else {
            panic!("version 1 loaded")
        };
        assert!(m.contains("version 1") && m.contains("rebuild"), "{m}");
        let mut v9 = b"HYDX".to_vec();
        v9.extend_from_slice(&9u32.to_le_bytes());
        assert!(DupIndex::from_bytes(&v9).is_err());
        // a band entry naming a document that is not there
        let mut idx = DupIndex::default();
        assert!(
            idx.insert(&Signature::of_text(LETTER), &meta("u1", "a"))
                .is_ok()
        );
        let good = idx.to_bytes();
        assert!(DupIndex::from_bytes(&good).is_ok());
        // the first band entry's document id sits after the key table's length, its key and
        // its count (4 + 4 bytes)
        let cfg_len = u64::from_le_bytes(good[8..16].try_into().unwrap_or_default()) as usize;
        let records = 16 + cfg_len + 8 + (8 + SKETCH_BYTES + 2 + 4 + 4);
        let bands_at = records + 8 + 8;
        let first_doc = bands_at + 8 + 8;
        let mut bad = good.clone();
        bad[first_doc..first_doc + 4].copy_from_slice(&5u32.to_le_bytes());
        let Err(TextError::Model(m)) = DupIndex::from_bytes(&bad) else {
            panic!("bad band entry loaded")
        };
        assert!(m.contains("band"), "{m}");
        // the petitioner list dropped: the document would be lost to the repeat check
        let mut no_lists = good[..good.len() - (4 + 4 + 4 + 8)].to_vec();
        no_lists.extend_from_slice(&0u64.to_le_bytes());
        let Err(TextError::Model(m)) = DupIndex::from_bytes(&no_lists) else {
            panic!("index without petitioner lists loaded")
        };
        assert!(m.contains("petitioner"), "{m}");
    }

    #[test]
    fn empty_text_never_matches() {
        let mut idx = DupIndex::default();
        let e = Signature::of_text("");
        assert!(idx.insert(&e, &DocMeta::default()).is_ok());
        assert_eq!(idx.query(&e, &DocMeta::default()).kind, MatchKind::New);
    }
}
