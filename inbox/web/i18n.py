"""Page text in Simplified Chinese (the default) and English (`?lang=en`, kept in a cookie)."""

from __future__ import annotations

__all__ = ["LANGS", "translator"]

LANGS = ("zh-CN", "en")

_EN = {
    "合规质检工作台": "Compliance workspace", "会议": "Meetings", "看板": "Dashboards", "退出": "Log out",
    "登录": "Log in", "用户名": "User name", "密码": "Password", "筛选": "Filter", "分支机构": "Branch",
    "业务员": "Agent", "工牌": "Badge", "案件号": "Case id", "起始日期": "From", "结束日期": "To",
    "审核状态": "Review state", "严重程度": "Severity", "排序": "Sort", "全部": "All",
    "待审核": "Pending", "通过": "Passed", "不通过": "Failed", "复检": "Re-inspection",
    "最新": "Newest", "最早": "Oldest", "问题最多": "Most problems", "按业务员": "By agent",
    "开始时间": "Started", "时长": "Length", "片段": "Clips", "断链": "Gaps", "断电恢复": "Recovered",
    "问题": "Problems", "共": "Total", "条": "", "上一页": "Previous", "下一页": "Next",
    "导出 CSV": "Export CSV", "录音": "Recording", "转写": "Transcript", "检查结果": "Findings",
    "监管链": "Custody", "关联组": "Case group", "审计日志": "Audit log", "审核": "Review",
    "确认": "Confirm", "驳回": "Overrule", "重新打开": "Reopen", "理由": "Reason", "评论": "Comment",
    "提交": "Submit", "导出证据包": "Export evidence", "已说": "said", "缺失": "missing",
    "违规": "violated", "待定": "open", "已确认": "confirmed", "已驳回": "overruled",
    "链完整": "chain intact", "链断裂": "chain broken", "未录音（静音门关闭）": "not recording (VAD gate closed)",
    "缺失片段": "missing clips", "断电恢复，丢失": "recovered after power loss, lost",
    "时间": "When", "操作人": "Who", "操作": "What", "之前": "Before", "之后": "After",
    "开口率（按检查项）": "Execution rate by item", "开口率（按分支机构）": "Execution rate by branch",
    "开口率（按业务员）": "Execution rate by agent", "开口率（按周）": "Execution rate by week",
    "每日会议数与录音时长": "Meetings and recorded hours per agent per day",
    "同步延迟（录音→接收）": "Sync delay (recorded → received)", "每周问题": "Findings by kind per week",
    "复检一次通过率": "First-pass re-inspection rate",
    "每日会议数与录音时长（按分支机构）": "Meetings and recorded hours per branch per day",
    "同步延迟（按业务员）": "Sync delay by agent",
    "选择一个分支机构查看各业务员的开口率、每日会议与同步延迟。":
        "Choose a branch to see each agent's execution rates, meetings per day and sync delay.", "会议不存在": "No such meeting",
    "会话已过期，请重新登录": "Your session expired; please log in again",
    "用户名或密码错误": "Wrong user name or password", "请求无效": "Invalid request",
    "本会议的其他会议": "Other meetings of this case", "无": "none", "严重": "severe", "一般": "moderate",
    "提示": "notice", "清单哈希": "manifest hashes", "说出时刻": "at", "检查项": "Item",
    "状态": "Status", "完整性": "integrity", "未出现": "did not occur", "复核": "Verdict", "从": "credited from", "秒": "s",
}


def translator(lang: str):  # type: ignore[no-untyped-def]
    if lang == "en":
        return lambda s: _EN.get(s, s) or s
    return lambda s: s
