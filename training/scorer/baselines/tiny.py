"""Tiny random baseline models built from configs (no download), for the tests and the CPU demo:
a CLIPModel (byte-level BPE tokenizer with start/end tokens, CLIPImageProcessorPil) and a BLIP-2 retrieval
model (WordPiece tokenizer with [CLS]/[SEP], BlipImageProcessorPil). Their scores are meaningless; they load
through the same ``from_pretrained`` paths as the real checkpoints."""

from __future__ import annotations

from pathlib import Path

_CORPUS = [
    "a red cube on a wooden table",
    "a cat and a dog in the park",
    "an astronaut riding a horse",
    "smooth waves of colour",
    "a blurry noisy photo",
    "a sharp detailed picture",
    "Good photo.",
    "Bad photo.",
    "an abstract pattern with gradients",
    "a bowl of fruit with apples and oranges",
]


def _bpe_tokenizer(vocab_size: int = 300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token=None))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    special = ["<|startoftext|>", "<|endoftext|>"]
    raw.train_from_iterator(
        _CORPUS * 5,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    raw.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[(t, raw.token_to_id(t)) for t in special]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token=special[0], eos_token=special[1], pad_token=special[1]
    )
    return tok, raw.get_vocab_size(), raw.token_to_id(special[0]), raw.token_to_id(special[1])


def build_tiny_clip(out_dir: str | Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    out = Path(out_dir)
    tok, vocab, bos, eos = _bpe_tokenizer()
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    CLIPModel(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def build_tiny_blip2(out_dir: str | Path, *, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import Blip2Config, Blip2ForImageTextRetrieval, BlipImageProcessorPil, PreTrainedTokenizerFast

    out = Path(out_dir)
    raw = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    raw.normalizer = normalizers.BertNormalizer(lowercase=True)
    raw.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    raw.train_from_iterator(
        _CORPUS * 5, trainers.WordPieceTrainer(vocab_size=200, special_tokens=special, show_progress=False)
    )
    raw.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, raw.token_to_id(t)) for t in ("[CLS]", "[SEP]")]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    cfg = Blip2Config(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        qformer_config=dict(
            vocab_size=raw.get_vocab_size(),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=64,
            cross_attention_frequency=1,
            encoder_hidden_size=32,
            pad_token_id=0,
            use_qformer_text_input=True,
        ),
        num_query_tokens=4,
        image_text_hidden_size=16,
    )
    torch.manual_seed(seed)
    Blip2ForImageTextRetrieval(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(out)
    return out
