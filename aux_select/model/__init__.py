"""The model layer: a shared encoder (a Hugging Face transformer or AutoSeM's BiLSTM) with one head
per task, and the attention-head gates GradTS differentiates."""
from aux_select.model.encoders import EncoderConfig, build_encoder, bundled_minilm_path, load_tokenizer
from aux_select.model.gates import gate_shape, head_gates
from aux_select.model.heads import MultiTaskModel, build_model

__all__ = ["EncoderConfig", "build_encoder", "bundled_minilm_path", "load_tokenizer", "gate_shape", "head_gates",
           "MultiTaskModel", "build_model"]
