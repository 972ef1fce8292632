/// Every claim, in the order of the issue.
module Dsl.Theory.Catalog

/// All claims: seed 000 Q1–Q6 and Task 1, seed 002 Q2–Q3 and the softmax/NLL statements, seed 004 Task 2.
let all: Claim list = [
    Ridge.claim
    Ridge.claimOptimum
    GuessAndCheck.claimExactHit
    GuessAndCheck.claimPStar
    GuessAndCheck.claimStoppingTime
    GuessAndCheck.claimBounds
    GuessAndCheck.claimDistinct
    DoubleDescent.claim
    HeInit.claimSymmetric
    HeInit.claimDepth
    Task1.claimTable
    Task1.claimOverflow
    Task1.claimProduct
    Task1.claimLinearScaled
    Task1.claimKaiming
    Task1.claimXavierRelu
    Task1.claimTanh
    Initializers.claim
    Task1.claimFiniteWidth
    Equivariance.claimSufficient
    Equivariance.claimNecessary
    Equivariance.claimCirculant
    Equivariance.claimDimension
    Vgg.claim
    ConvByHand.claimFilter1
    ConvByHand.claimRecovered
    TinyCnn.claim
    Softmax.claimNll
    Softmax.claimJacobian
    Softmax.claimDerivativeIsOne
    Softmax.claimL2
    MlpCheck.claim
    HalfRmse.claim
    PermutedPixels.claimForward
    PermutedPixels.claimTrajectory
    PermutedPixels.claimCnn
]

/// The claims that are statements from the seeds known to be false (their expected verdict is Refuted).
let expectedRefuted = set [ "2e"; "10c"; "10d"; "10f" ]

/// A claim by id.
let find (id: string) = all |> List.find (fun c -> c.Id = id)
