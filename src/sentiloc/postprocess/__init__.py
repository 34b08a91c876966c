"""Post-processing: CAS -> proposals (multi-threshold, outer-inner contrast) -> NMS -> JSON."""

from sentiloc.postprocess.nms import nms_1d, temporal_iou
from sentiloc.postprocess.proposals import PostprocessConfig, video_proposals
from sentiloc.postprocess.results import activitynet_results, write_results

__all__ = ["PostprocessConfig", "activitynet_results", "nms_1d", "temporal_iou", "video_proposals", "write_results"]
