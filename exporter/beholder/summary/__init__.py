"""karmor-summary style aggregation: what each pod's processes ran, opened, dialled and bound."""

from beholder.summary.aggregate import Summary, SummaryLimits
from beholder.summary.peers import Peer, PeerResolver, StaticPeers

__all__ = ["Peer", "PeerResolver", "StaticPeers", "Summary", "SummaryLimits"]
