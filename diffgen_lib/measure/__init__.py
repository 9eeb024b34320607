"""Measurements of trained runs and closed-form denoisers: denoising errors and the training gap
(:mod:`evaluation`), the paper's metrics (:mod:`metrics`: Frechet distance, nearest neighbours,
copies), sample sets (:mod:`inference`), the calibrated inference statistics with their null and
copier (:mod:`calibration`), trajectories (:mod:`trajectories`), memorization by the optimal
denoiser (:mod:`memorization`), limited receptive fields (:mod:`windows`), summaries of curves
(:mod:`summaries`) and verdicts with intervals (:mod:`verdicts`).

A measurement receives a :class:`~diffgen_lib.runs.TrainedRun` (or plain tensors), never a config
it would have to train; it knows no chapter.
"""
