"""Optimizer updates that are skipped when their loss or gradients are not finite.

:func:`apply_if_finite` is the one way every tfgen model applies an update
(``GenerativeModel.apply_if_finite`` calls it). An update whose loss,
gradients or accompanying state values hold a NaN or an infinity is skipped
on *every* replica, so the weights keep their last finite values and
replicas never diverge. When the loss itself is not finite, training is then
stopped by :class:`tfgen.callbacks.StopOnNonFiniteLoss`, which watches the
logged losses; an update skipped only for non-finite gradients or state
leaves training running.

Under ``tf.distribute.MirroredStrategy`` an optimizer cannot be applied inside
a replica-level ``tf.cond`` (it synchronises with ``merge_call``), so the
decision is all-reduced, taken in the cross-replica context, and the update
then runs on every replica from there: the approach of
``keras.optimizers.LossScaleOptimizer``.

Float16 loss scaling: with a finite loss, non-finite gradients of the
*scaled* loss mean the scale is too large, not that training diverged; the
``LossScaleOptimizer`` is then told of the overflow so that it halves its
scale, and training goes on.
"""

import keras
import tensorflow as tf


def all_finite(tensors):
    """Scalar bool tensor: every element of every (non-``None``) tensor is finite."""
    checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def finite_on_every_replica(finite):
    """All-reduces a per-replica ``finite`` flag, so that every replica takes the same branch."""
    if not tf.distribute.has_strategy():
        return finite
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return finite
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(finite), tf.float32))
    return tf.equal(bad, 0.0)


def _run_if(condition, update_fn, args):
    """Runs ``update_fn(*args)`` when ``condition`` (already the same on every replica) holds.

    Pass every per-replica tensor ``update_fn`` needs through ``args``: under
    a ``merge_call`` strategy the function runs from the cross-replica context.
    """
    def skip():
        return None

    if not tf.distribute.has_strategy() or tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(condition, lambda: update_fn(*args), skip)
        return

    def merge_fn(strategy, condition, *args):
        condition = strategy.experimental_local_results(condition)[0]

        def apply_on_replicas():
            strategy.extended.call_for_each_replica(update_fn, args=args)

        tf.cond(condition, apply_on_replicas, skip)

    tf.distribute.get_replica_context().merge_call(merge_fn, args=(condition,) + tuple(args))


def _report_overflow(optimizer, loss, gradients, variables):
    """Lowers a ``LossScaleOptimizer``'s scale when the loss is finite but the gradients are not."""
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return
    loss_finite = finite_on_every_replica(tf.math.is_finite(loss))
    gradients_finite = finite_on_every_replica(all_finite(gradients))
    overflow = tf.logical_and(loss_finite, tf.logical_not(gradients_finite))

    def lower_scale(gradients):
        # Non-finite on every replica: each takes the LossScaleOptimizer's own skip branch.
        nan = float("nan")
        optimizer.apply([None if g is None else g + tf.constant(nan, g.dtype) for g in gradients], variables)

    _run_if(overflow, lower_scale, (gradients,))


def apply_if_finite(optimizer, loss, gradients, variables, state=(), state_values=(), after_apply=None):
    """``optimizer.apply(gradients, variables)`` unless anything it depends on is not finite.

    Args:
        optimizer: a built ``keras.optimizers.Optimizer`` (a
            ``LossScaleOptimizer`` under float16 mixed precision).
        loss: scalar float tensor, the (unscaled) loss of this update.
        gradients: list of tensors (or ``None``), one per variable.
        variables: the variables to update.
        state: variables assigned ``state_values`` together with the update
            (e.g. batch-norm statistics computed inside a ``keras.StatelessScope``).
        state_values: new values of ``state``; checked for finiteness too.
        after_apply: optional function of no arguments run after a successful
            update (e.g. an EMA of the weights).

    Returns:
        Scalar bool tensor: whether the update was applied (all-reduced).
    """
    state, state_values = list(state), list(state_values)
    finite = finite_on_every_replica(
        tf.logical_and(tf.math.is_finite(loss), all_finite(list(gradients) + state_values))
    )

    def update(gradients, state_values):
        optimizer.apply(gradients, variables)
        for variable, value in zip(state, state_values):
            variable.assign(value)
        if after_apply is not None:
            after_apply()

    _run_if(finite, update, (list(gradients), state_values))
    _report_overflow(optimizer, loss, gradients, variables)
    return finite
