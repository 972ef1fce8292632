namespace Dsl

open Dsl.Engine

/// A splittable random key, as in JAX: a pure value that is split explicitly so that every layer's
/// initialisation and every dropout mask draws from its own reproducible stream. One seed at the
/// top determines everything below it.
[<Struct; StructuredFormatDisplay("Rng({Key})")>]
type Rng = { Key: uint64 }

/// Creating, splitting and using random keys.
module Rng =
    // SplitMix64's mixer (the engine's): a bijection with full avalanche, so derived keys are independent for practical purposes.
    let private mix (z: uint64) = SplitMix.Finalize z

    /// The key for a seed.
    let seed (s: int64) : Rng = { Key = mix (uint64 s + SplitMix.Gamma) }

    /// The i-th key derived from `rng` (fold_in): different i give independent keys.
    let fold (i: int) (rng: Rng) : Rng = { Key = mix (rng.Key ^^^ mix (uint64 i + 0x632be59bd9b4e019UL)) }

    /// Two independent keys from one.
    let split (rng: Rng) : Rng * Rng = fold 0 rng, fold 1 rng

    /// n independent keys from one.
    let splitN (n: int) (rng: Rng) : Rng[] = Array.init n (fun i -> fold i rng)

    /// A native generator seeded from this key (on the given device), for libtorch's random ops.
    let generator (device: Device) (rng: Rng) : Generator = new Generator(int64 (rng.Key &&& 0x7fffffffffffffffUL), device)
