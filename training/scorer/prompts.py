"""Context prompts and level words of Q-Eval-Score.

The four prompt texts are exactly those of the released inference code (zzc-1998/Q-Eval,
utils/infer.py; see ../shared/REFERENCE.md). The two visual-quality prompts end their first line with
a space after "visual quality." -- the released checkpoint was trained on that text, so the strings
are written with explicit ``\\n`` and that space must survive editors and linters.

No third-party imports here: the platform's exporter uses this module without torch installed.
"""

from __future__ import annotations

DIMENSIONS = ("quality", "alignment")
MEDIA_TYPES = ("image", "video")
# "context": the released checkpoint's context prompts below; "plain": a short question without the expert
# context and without the list of categories -- the paper's Table 4 ablation "without context prompt"
PROMPT_STYLES = ("context", "plain")

# Level words in the order of their weights (best first), as Q-Align and Q-Eval-Score use them.
LEVELS = ("Excellent", "Good", "Fair", "Poor", "Bad")
LEVEL_WEIGHTS = (1.0, 0.75, 0.5, 0.25, 0.0)

_QUALITY = (
    "<{m}>Suppose you are an expert in evaluating the visual quality of AI-generated {m}. First identify "
    "any visual distortions and positive visual appeal regarding low-level features and aesthetics. Next, "
    "assess the severity of distortions and their impact on the viewing experience, noting whether they are "
    "subtle or distracting, and evaluate how the positive features enhance the {m}'s visual appeal, "
    "considering their strength and contribution to the overall aesthetics. Finally, balance the identified "
    "distortions against the positive aspects and give your rating on the visual quality. \n"
    "Your rating should be chosen from the following five categories: Excellent, Good, Fair, Poor, and Bad.\n"
    'For this {m}, the text prompt is "{{prompt}}". Now please rate this {m}:'
)
_ALIGNMENT = (
    "<{m}>Suppose you are an expert in evaluating the alignment between the text prompt and the AI-generated "
    "{m}. Begin by considering whether the overall concept of the prompt is captured in the {m}. Then, "
    "examine the specific details, such as the presence of key objects, their attributes, and relationships. "
    "Check if the visual content accurately reflects these aspects. Finally, give your alignment rating "
    "considering both overall and detailed accuracy.\n"
    "Your rating should be chosen from the following five categories: Excellent, Good, Fair, Poor, and Bad.\n"
    'For this {m}, the text prompt is "{{prompt}}". Now please rate this {m}:'
)

CONTEXT_PROMPTS = {(media, "quality"): _QUALITY.format(m=media) for media in MEDIA_TYPES} | {
    (media, "alignment"): _ALIGNMENT.format(m=media) for media in MEDIA_TYPES
}


# The paper does not print the prompt of its "without context prompt" ablation; ours is Q-Align's question
# (Q-Future/Q-Align: "How would you rate the quality of this image?") and its alignment counterpart, with the
# item's prompt, so that only the expert context and the category list are taken away.
PLAIN_PROMPTS = {
    (media, "quality"): f"<{media}>How would you rate the quality of this {media}?" for media in MEDIA_TYPES
} | {
    (media, "alignment"): f"<{media}>How would you rate the alignment between this {media} and the text prompt "
    f'"{{prompt}}"?'
    for media in MEDIA_TYPES
}


def context_prompt(*, media_type: str, dimension: str, prompt: str, style: str = "context") -> str:
    """The exact user-turn text for one item and dimension, ``<image>``/``<video>`` tag first.

    ``style="plain"`` gives the ablation prompt (:data:`PLAIN_PROMPTS`) instead of the context prompt."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")
    try:
        template = (CONTEXT_PROMPTS if style == "context" else PLAIN_PROMPTS)[(media_type, dimension)]
    except KeyError:
        raise ValueError(
            f"no context prompt for media_type={media_type!r}, dimension={dimension!r}; "
            f"expected one of {MEDIA_TYPES} x {DIMENSIONS}"
        ) from None
    return template.replace("{prompt}", prompt)


# Five equal-width bins on 1-5 (Q-Align): below 1.8 Bad, below 2.6 Poor, below 3.4 Fair, below 4.2 Good.
_LEVEL_UPPER_EDGES = ((1.8, "Bad"), (2.6, "Poor"), (3.4, "Fair"), (4.2, "Good"))


def level_from_mos(mos: float) -> str:
    """The level word a MOS on 1-5 trains towards."""
    for edge, word in _LEVEL_UPPER_EDGES:
        if mos < edge:
            return word
    return "Excellent"


def score_from_probabilities(probabilities) -> float:
    """1-5 score from the five level probabilities ordered as :data:`LEVELS`: ``1 + 4 * sum(p * w)``."""
    return 1.0 + 4.0 * sum(p * w for p, w in zip(probabilities, LEVEL_WEIGHTS))
