"""How far a running sync is, stored as it goes, so a page in any process can follow it (the status endpoint).

A sync of one Chat call writes nothing here: its end (store.store_one) says everything at once. A sync of more
calls stores, once its plan is known, how many calls it makes (the read counts as one), then after each call but
the last how many are done and the ResultCode and ResultInfo of each conversation that call answered. The last
call's answers are stored with the sync's end, which sets both counts back to 0.
"""

from django.db.models import Q
from django.utils import timezone

from contactgroups.chat import protocol
from contactgroups.chat.types import ItemResult
from contactgroups.models import ContactItem, GroupSync
from contactgroups.sync.plan import Plan


def calls_of(steps: Plan) -> int:
    """The Chat calls a plan sends: a create, a rename, its updates, a delete."""
    return (steps.create is not None) + (steps.rename is not None) + len(steps.updates) + (steps.delete is not None)


class LiveProgress:
    """Counts one sync's Chat calls and stores them, and the conversations' answers, while more are to come."""

    def __init__(self, group_pk: int):
        self.group_pk = group_pk
        self.done = 0
        self.planned = 0

    def read(self) -> None:
        """The sync read the group from Chat before it could plan."""
        self.done += 1

    def start(self, steps: Plan) -> None:
        """The plan is known: store how many calls the sync makes, if more than one."""
        self.planned = self.done + calls_of(steps)
        if self.planned > 1:
            self._store()

    def answered(self, results: list[ItemResult] = ()) -> None:
        """A call of the plan returned with ``results``; stored unless it was the last call."""
        self.done += 1
        if self.done >= self.planned:
            return
        self._store_results(results)
        self._store()

    def _store(self) -> None:
        GroupSync.objects.filter(group_id=self.group_pk).update(calls_done=self.done, calls_planned=self.planned)

    def _store_results(self, results) -> None:
        """Each conversation's answer on its row: one UPDATE for each distinct answer (usually one)."""
        by_answer: dict[tuple[int, str], Q] = {}
        for result in results:
            if (result.operation or protocol.OPERATION_ADD) != protocol.OPERATION_ADD:
                continue  # a removed conversation has no row left to answer on
            answer = (result.result_code, result.result_info)
            by_answer[answer] = by_answer.get(answer, Q()) | Q(**ContactItem.fields_of(result.conversation))
        now = timezone.now()
        for (code, info), rows in by_answer.items():
            ContactItem.objects.filter(rows, group_id=self.group_pk).update(
                result_code=code, result_info=info, result_at=now)
