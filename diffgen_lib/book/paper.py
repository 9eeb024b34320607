"""The paper's claims (its abstract and sections 3-5) with its paper-scale numbers (ImageNet-64,
EDM2-M unless noted): what the claims page and the front page set the book's verdicts beside.
"chapter" is the chapter that measures the claim."""

PAPER = {
    "C1": dict(
        statement="The optimal (empirical) denoiser of a finite training set memorizes: sampling "
        "with it returns training points; its flow field localizes sharply around them at small sigma.",
        paper_scale="analytic: exact recall of the training points.",
        chapter="01_optimal_denoiser",
    ),
    "C2": dict(
        statement="A neural denoiser progressively overfits the denoising objective: the relative "
        "gap (val - train)/train grows with training time and model size.",
        paper_scale="relative training gap at sigma ~ 1.67 grows almost linearly to ~0.23 "
        "after 2147M training images.",
        chapter="03_training_gap",
    ),
    "C3": dict(
        statement="The gap is localized in noise level: ~0 at very small and at large sigma, "
        "peaked at intermediate sigma.",
        paper_scale="peak at sigma ~ 0.6-2 (sigma_data = 0.5).",
        chapter="03_training_gap",
    ),
    "C4": dict(
        statement="The training gap does not translate to inference: samples are about as close "
        "to the validation set as to the training set; with early-stopped inference the gap is ~0 "
        "where the training gap peaks.",
        paper_scale="FD_DINOv2 gap peaks at ~0.10 (1074M images), falls to ~0.08; partial inference "
        "at sigma ~ 1.2-1.6: FD gap ~0.02-0.03 against a training gap of ~0.3-0.4.",
        chapter="04_inference_gap",
    ),
    "C5": dict(
        statement="Intermediate states of sampling trajectories are far from the noisy training "
        "samples at the same sigma, so the overfitted part of the denoiser is rarely queried.",
        paper_scale="qualitative (nearest-neighbour similarities of trajectory states vs. noisy "
        "training samples).",
        chapter="05_trajectories",
    ),
    "C6": dict(
        statement="Toy model: model error (smoothing width delta) or denser data support suppresses "
        "exact recall; the gap is largest at sigma ~ delta and shrinks as delta grows or points get denser.",
        paper_scale="2-D circle, 10 train + 10 val points, delta from 2.2 down to 1.2.",
        chapter="02_toy_model",
    ),
    "C7": dict(
        statement="Guidance strongly increases the inference gap; finer conditioning increases the "
        "training gap and moves its peak to higher sigma; a smaller receptive field reduces it; "
        "conditional models show a larger gap.",
        paper_scale="guidance: inference gap ~0.05 -> ~0.21-0.23 (EDM2-S); 32 px windows: training "
        "gap ~0.107 -> ~0.023; CIFAR-10 k-means 0 -> 500 clusters: peak gap ~0.060 -> ~0.092.",
        chapter="06_factors",
    ),
}
