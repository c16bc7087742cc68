"""register_generator NAME --campaign SLUG (--tiny image|video | --diffusers PATH_OR_ID [--param KEY=VALUE ...] | --external image|video)"""

from annotation.services.campaigns import campaign_get
from core.errors import InvalidInput
from core.management.base import ServiceCommand
from generation.pipelines.spec import PARAM_NAMES, SpecError, parse_params
from generation.services.generators import generator_register


class Command(ServiceCommand):
    help = (
        "Register a generator with how to run it: a diffusers pipeline (model path or hub id and its exact "
        "parameters), the tiny CPU pipeline (--tiny), or external (content arrives by import)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--campaign", required=True)
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--tiny", choices=["image", "video"], help="The tiny random pipeline (CPU tests, demos).")
        how.add_argument("--diffusers", metavar="PATH_OR_ID", help="A diffusers model folder or hub id.")
        how.add_argument("--external", choices=["image", "video"], help="Content of this media type arrives by import.")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"Run parameter ({', '.join(PARAM_NAMES[1:])}, or call.<argument>); repeatable.",
        )

    def handle(self, name, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        try:
            params = parse_params(opts["param"])
        except SpecError as exc:
            raise InvalidInput(str(exc)) from None
        if opts["external"]:
            if params:
                raise InvalidInput("--param is for --diffusers and --tiny generators")
            spec = generator_register(name=name, campaign=campaign, kind="external", media_type=opts["external"])
        else:
            spec = generator_register(
                name=name,
                campaign=campaign,
                kind="diffusers",
                model=opts["diffusers"] or "",
                params=params,
                tiny=opts["tiny"],
            )
        if spec.kind == "external":
            self.stdout.write(
                f"generator {name!r} registered for {campaign.slug!r}: external ({spec.generator.media_type})"
            )
            return
        s = spec.spec
        shape = f"{s['width']}x{s['height']}" + (
            f", {s['num_frames']} frames at {s['fps']} fps" if s.get("num_frames") else ""
        )
        self.stdout.write(
            f"generator {name!r} registered for {campaign.slug!r}: {s['pipeline_class']} from {s['model']}, "
            f"{s['steps']} steps, guidance {s['guidance_scale']}, {shape}, batches of {s['batch_size']}"
        )
