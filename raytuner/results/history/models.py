"""The history schema as SQLAlchemy 2 models (the head revision of ``migrations/``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    metric: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(8))
    strategy: Mapped[str] = mapped_column(String(100))
    scheduler: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[str] = mapped_column(String(40))
    wall_time_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20))
    family: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON)
    best_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_config: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)  # revision 0002
    trials: Mapped[list["TrialRow"]] = relationship(
        back_populates="experiment", cascade="all, delete-orphan", passive_deletes=True, order_by="TrialRow.id"
    )


class TrialRow(Base):
    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[str] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    steps: Mapped[int] = mapped_column(Integer)
    experiment: Mapped[ExperimentRow] = relationship(back_populates="trials")
