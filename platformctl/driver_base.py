"""What every part of the release driver stands on: the stack's settings, the service's
release config in the stack file, and the release record in the ledger (written before and
after every step, every event and every transition)."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import Any

from components.workload import slot_service_name
from infra.settings.app import ServiceSettings
from infra.settings.delivery import DeliverySettings
from platformctl import machine
from platformctl.blob_store import StopDriving
from platformctl.guards import ReleaseGuards
from platformctl.lease import Lease
from platformctl.machine import Transition
from platformctl.notifier import Notifier
from platformctl.ports import DeployError
from platformctl.record import ReleaseRecord
from platformctl.release_metrics import NAMESPACE, metric_data
from platformctl.reviews import ReleaseReviews
from platformctl.stack_file import Blocks, sync_stack_file
from platformctl.world import World, service_index, stack_settings


class DriverBase:
    def __init__(self, world: World, service: str):
        self.world = world
        self.service = service
        self.settings = stack_settings(world.project, world.stack)
        self.index = service_index(self.settings, service)
        self.record: ReleaseRecord | None = None
        self._notifier = Notifier(lambda: world.hooks_for(self.delivery))
        self._reviews = ReleaseReviews(
            settings=self.delivery.review,
            reviewer_for=lambda: world.reviewer_for(self.delivery.review),
            stack=world.stack.name,
            environment=self.settings.platform.environment,
            known_secrets=world.known_secrets,
        )
        # An `up` that failed in this process, explained once the release has settled (the
        # explanation must never hold up the rollback).
        self._failed_up: tuple[str, DeployError] | None = None
        self._release_guards: ReleaseGuards | None = None
        # The stack's lease while an entry point holds it, and the release blocks as this
        # process last wrote them to the ledger (never re-read: that would defeat fencing).
        self._lease: Lease | None = None
        self._blocks: Blocks = {}
        self._next_look = 0.0

    @property
    def delivery(self) -> DeliverySettings:
        return self.settings.platform.delivery

    def _service(self) -> ServiceSettings:
        return self.settings.platform.app.services[self.index]

    def _app(self) -> dict[str, Any]:
        app = self.world.stack.read_config()["platform:app"]
        assert isinstance(app, dict)
        return app

    def _release(self) -> dict[str, Any]:
        return dict(self._app()["services"][self.index]["release"])

    def _set_release(self, release: dict[str, Any]) -> None:
        """The ledger first (the truth every machine reads), then the stack file."""
        self._blocks = {**self._blocks, self.service: release}
        self.world.ledger.write_release_blocks(
            self.world.stack.name, self._blocks, self._held().terms.epoch
        )
        app = self._app()
        services = list(app["services"])
        services[self.index] = {**services[self.index], "release": release}
        self.world.stack.set_config({"platform:app": {**app, "services": services}})

    @contextlib.contextmanager
    def _holding(self, purpose: str, wait_seconds: float = 0.0) -> Iterator[Lease]:
        """The stack's lease for an entry point, with the stack file written from the
        ledger. Taken from a holder that vanished, a Pulumi lock its `up` left is reported
        before anything is applied. A process that has to stop says why in the ledger."""
        ledger, stack = self.world.ledger, self.world.stack.name
        with ledger.lease(
            stack, purpose, service=self.service, by=self.world.actor, wait_seconds=wait_seconds
        ) as lease:
            self._lease = lease
            try:
                if lease.took_over_from is not None:
                    for lock in self.world.pulumi_locks(stack):
                        raise DeployError(lock.advice(stack))
                self._blocks, changed = sync_stack_file(ledger, self.world.stack, lease.terms.epoch)
                if changed:
                    names = ", ".join(changed)
                    self._say(f"Pulumi.{stack}.yaml: release of {names} taken from the ledger")
                    self.settings = stack_settings(self.world.project, self.world.stack)
                yield lease
            except StopDriving as stop:
                ledger.note(stack, f"{self.world.actor} stopped driving {self.service}: {stop}")
                raise
            finally:
                self._lease = None

    def _held(self) -> Lease:
        assert self._lease is not None, "the stack's lease is taken by every entry point"
        return self._lease

    def _confirm_lease(self) -> None:
        """An `up` only under a lease confirmed now (the ledger keeps it alive meanwhile)."""
        self._held().confirm()

    def _slot_service(self, slot: str) -> str:
        return slot_service_name(self.service, slot)

    def _weights(self, *, live: int, candidate: int) -> dict[str, int]:
        record = self._record()
        return {
            self._slot_service(record.previous_live): live,
            self._slot_service(record.candidate_slot): candidate,
        }

    def _new_record(
        self,
        image: str,
        strategy: str | None,
        on_failure: str | None,
        approvals: tuple[dict[str, Any], ...],
    ) -> ReleaseRecord:
        service = self._service()
        release = service.release
        live_image = release.slot(release.live).image
        if image == live_image:
            raise DeployError(f"{image} is already live on {release.live}; nothing to release")
        strategy = strategy or release.strategy
        record = ReleaseRecord(
            id=time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.world.clock.now()))
            + "-"
            + secrets.token_hex(2),
            stack=self.world.stack.name,
            service=self.service,
            strategy=strategy,
            image=image,
            candidate_slot=release.candidate,
            previous_live=release.live,
            previous_image=live_image,
            steps=machine.plan(strategy, self.delivery),
            on_failure=on_failure or self.delivery.on_failure,
            on_inconclusive=self.delivery.analysis.on_inconclusive,
            started_at=self.world.clock.now(),
            approvals=list(approvals),
        )
        # The deploy step's config must be valid settings before anything is written.
        config = dict(self.world.stack.read_config())
        app = dict(config["platform:app"])
        services = list(app["services"])
        services[self.index] = {
            **services[self.index],
            "release": machine.deploy_config(dict(services[self.index]["release"]), record),
        }
        config["platform:app"] = {**app, "services": services}
        stack_settings(self.world.project, self.world.stack, config)
        return record

    def _refuse_stale_stack_file(self) -> None:
        """The stack file is the release state: if the deployed stack serves something else
        (a release from another checkout that was not committed), releasing from this file
        could deploy onto the slot that is serving."""
        deployed = (self.world.stack.outputs().get("releases") or {}).get(self.service)
        if not isinstance(deployed, Mapping):
            return
        release = self._service().release
        described = {
            "live": release.live,
            "images": {slot: release.slot(slot).image for slot in ("blue", "green")},
        }
        differs = [k for k in ("live", "images") if k in deployed and deployed[k] != described[k]]
        if differs:
            raise DeployError(
                f"Pulumi.{self.world.stack.name}.yaml is stale for {self.service}: the deployed "
                f"stack has {', '.join(f'{k}={deployed[k]}' for k in differs)}, the file "
                f"{', '.join(f'{k}={described[k]}' for k in differs)}; use the stack file of "
                "the last release (the release workflow commits it) before releasing again"
            )

    def _refuse_file_of_another_release(self) -> None:
        """Resuming or undoing a release applies this checkout's stack file: it must be the
        one the release wrote (the candidate slot holds the release's image, the previous
        slot the image it replaced), not an older checkout that would undo the wrong slot."""
        record = self._record()
        if record.step_index == 0 and record.step_started_at is None:
            return
        release = self._release()
        found = {
            record.candidate_slot: (release.get(record.candidate_slot) or {}).get("image"),
            record.previous_live: (release.get(record.previous_live) or {}).get("image"),
        }
        expected = {
            record.candidate_slot: record.image,
            record.previous_live: record.previous_image,
        }
        if found != expected and record.step_index == 0:
            # A deploy step that restored the file (a review holds it for approval) has
            # applied nothing: the file must then agree with the deployed stack instead.
            self._refuse_stale_stack_file()
        elif found != expected:
            raise DeployError(
                f"Pulumi.{record.stack}.yaml is not the stack file release {record.id} wrote: "
                f"it has {found}, the release {expected}; use the stack file the release left "
                "(the release workflow commits it to main)"
            )

    def _current(self) -> ReleaseRecord:
        record = self.world.ledger.read(self.world.stack.name, self.service)
        if record is None:
            raise DeployError(
                f"no release of {self.service} on {self.world.stack.name} in the ledger "
                f"({self.world.ledger.location})"
            )
        return record

    def _record(self) -> ReleaseRecord:
        assert self.record is not None
        return self.record

    def _save(self) -> None:
        record = self._record()
        for failure in self._notifier.failures():
            record.events.append({"at": self.world.clock.now(), "note": failure})
        self.world.ledger.write(record)

    def _event(self, **details: Any) -> None:
        self._record().events.append({"at": self.world.clock.now(), **details})

    def _transition(self, transition: Transition) -> None:
        self.record = machine.apply(self._record(), transition, self.world.clock.now())
        event = self.record.events[-1]
        self._save()
        self._say(f"{event['from']} -> {event['phase']}: {event['reason']}")
        notice = {
            "release": self.record.id,
            "stack": self.record.stack,
            "service": self.record.service,
            "image": self.record.image,
            **event,
        }
        self._notifier.send(notice)

    def _guards(self) -> ReleaseGuards:
        """Built once per driver: alarms and SLO alerts to judge with the metrics."""
        if self._release_guards is None:
            self._release_guards = self.world.guards_for(self.settings)
        return self._release_guards

    def _publish(self) -> None:
        """The finished release's figures, to CloudWatch, once; a failure is noted in the
        ledger and never changes the release."""
        record = self._record()
        if record.published or self.world.release_metrics is None:
            return
        try:
            self.world.release_metrics.publish(metric_data(record))
        except DeployError as error:
            self._event(note=f"release metrics not published: {error}")
        else:
            self._event(published=NAMESPACE)
        record.published = True
        self._save()

    def _say(self, line: str) -> None:
        self.world.progress(line)
